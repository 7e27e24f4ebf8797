"""Arrangements for the labels-file tests: real photos, and the labels they end up with."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.images.models import Image, ImageStatus
from app.projects.models import Project
from app.taxonomy.service import load_tree
from tests.support.datasets import FLOWERS12
from tests.support.env import require

FLOWERS = FLOWERS12 / "train"
CSV_HEAD = "filename,category_path,split,image_id,sha256,width,height,source,annotator,annotated_at"


@dataclass
class Photos:
    """Real photos, by the name they are uploaded under."""

    files: dict[str, bytes]

    def sha(self, name: str) -> str:
        return hashlib.sha256(self.files[name]).hexdigest()


def flowers(count: int) -> Photos:
    """``count`` real photos (at most 24), two of each kind, as p0.jpg, p1.jpg..."""
    require(FLOWERS.is_dir(), f"the flowers12 photos are not at {FLOWERS}")
    kinds = sorted(p for p in FLOWERS.iterdir() if p.is_dir())
    found = [f for kind in kinds for f in sorted(kind.iterdir())[:2]]
    return Photos({f"p{n}.jpg": f.read_bytes() for n, f in enumerate(found[:count])})


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def new_project(api: TestClient, name: str) -> int:
    resp = api.post("/api/v1/projects", json={"name": name})
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


def upload(api: TestClient, pid: int, entries: dict[str, bytes], **form: str) -> Any:
    resp = api.post(
        f"/api/v1/projects/{pid}/images?mode=sync",
        files=[("files", ("upload.zip", zip_of(entries), "application/zip"))],
        data=form,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def post_labels(api: TestClient, pid: int, name: str, data: bytes) -> Any:
    return api.post(f"/api/v1/projects/{pid}/labels-csv", files={"file": (name, data)})


def labels(db: Session, pid: int) -> dict[str, str]:
    """sha256 -> category path of the project's labeled images."""
    db.expire_all()
    tree = load_tree(db, db.get_one(Project, pid))
    rows = db.scalars(
        select(Image).where(Image.project_id == pid, Image.status == ImageStatus.labeled)
    )
    return {i.sha256: "/".join(tree.path(tree.by_id[i.category_id or 0])) for i in rows}


def coco(images: list[Any], annotations: list[Any], categories: list[Any] | None = None) -> bytes:
    cats = categories if categories is not None else [
        {"id": 1, "name": "daisy", "supercategory": "Asteraceae", "path": "Asteraceae/daisy"},
        {"id": 2, "name": "iris", "supercategory": None},
    ]  # fmt: skip
    doc = {"images": images, "annotations": annotations, "categories": cats}
    return json.dumps(doc).encode()
