"""Arrangements for the export tests: projects with labeled images, and reading zips."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image as PILImage
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.images.models import Image
from app.labeling import service as labeling
from app.taxonomy.models import Category


def jpeg(seed: int, size: tuple[int, int] = (48, 32)) -> bytes:
    """Random noise: every seed a different perceptual hash, so no near-duplicate groups."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


def make_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def new_project(api: TestClient, name: str) -> int:
    resp = api.post("/api/v1/projects", json={"name": name})
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


def upload_zip(api: TestClient, pid: int, entries: dict[str, bytes], labels: bool = True) -> Any:
    resp = api.post(
        f"/api/v1/projects/{pid}/images?mode=sync",
        files=[("files", ("upload.zip", make_zip(entries), "application/zip"))],
        data={"labels_from_folders": "true" if labels else "false"},
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def layout(counts: dict[str, int], start: int = 0) -> dict[str, bytes]:
    """Zip entries: ``counts`` images under each folder path, all distinct."""
    entries: dict[str, bytes] = {}
    seed = start
    for folder, n in counts.items():
        for i in range(n):
            prefix = f"{folder}/" if folder else ""
            entries[f"{prefix}img{seed}-{i}.jpg"] = jpeg(seed)
            seed += 1
    return entries


def export(api: TestClient, pid: int, **params: Any) -> zipfile.ZipFile:
    resp = api.get(f"/api/v1/projects/{pid}/export", params=params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(resp.content))


def manifest(archive: zipfile.ZipFile) -> Any:
    return json.loads(archive.read("manifest.json"))


def files(archive: zipfile.ZipFile) -> list[str]:
    """Entries other than the metadata files at the root."""
    meta = {"manifest.json", "labels.csv", "annotations.json"}
    return sorted(n for n in archive.namelist() if n not in meta)


def images_by_name(db: Session, pid: int) -> dict[str, Image]:
    db.expire_all()
    rows = db.scalars(select(Image).where(Image.project_id == pid))
    return {i.filename.rsplit("/", 1)[-1]: i for i in rows}


def category(db: Session, pid: int, name: str) -> Category:
    return db.scalars(
        select(Category).where(Category.project_id == pid, Category.name == name)
    ).one()


def reject(db: Session, image: Image, user_id: int) -> None:
    labeling.annotate(db, image, user_id, rejected=True, reason="blurry")
    db.commit()


def unlabel(db: Session, image: Image, user_id: int) -> None:
    labeling.annotate(db, image, user_id)
    db.commit()


def relabel(db: Session, image: Image, user_id: int, category_id: int) -> None:
    labeling.annotate(db, image, user_id, category_id=category_id)
    db.commit()
