"""The zip streams: small chunks from the first image on, and a missing file is reported."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image as PILImage
from sqlalchemy.orm import Session

from app.auth.models import User
from app.config import Settings
from app.exports import service, writers
from app.exports.options import ExportOptions
from app.exports.zipstream import CHUNK
from app.images.storage import ImageStore
from app.projects.models import Project
from tests.conftest import ClientFor
from tests.exports.helpers import export, images_by_name, manifest, new_project, upload_zip


def big_jpeg(seed: int) -> bytes:
    """About 200 KB: several chunks per file."""
    pixels = np.random.default_rng(seed).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, "JPEG", quality=95)
    return out.getvalue()


def test_chunks_stay_small_and_start_before_the_images_are_read(
    api_as: ClientFor, admin: User, app: FastAPI, settings: Settings
) -> None:
    api = api_as(admin)
    pid = new_project(api, "Big")
    upload_zip(api, pid, {f"c{i % 2}/{i}.jpg": big_jpeg(i) for i in range(12)})
    done = []
    sizes = []
    first_chunk_after: int | None = None
    with app.state.sessionmaker() as session:
        project = session.get_one(Project, pid)
        plan = service.build_plan(session, project, ExportOptions(format="csv", split=True))
        assert len(plan.assigned) == 12
        body = b""
        for chunk in writers.stream_export(
            session, plan, ImageStore(settings.data_dir), lambda: done.append(1)
        ):
            if first_chunk_after is None:
                first_chunk_after = len(done)
            sizes.append(len(chunk))
            body += chunk
    assert first_chunk_after == 0  # the first image is still being copied
    assert max(sizes) <= 2 * CHUNK + 4096
    assert sum(sizes) > 12 * 100_000
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        assert len(archive.namelist()) == 14


def test_a_missing_original_is_left_out_and_counted(
    api_as: ClientFor, admin: User, db: Session, settings: Settings
) -> None:
    api = api_as(admin)
    pid = new_project(api, "Holes")
    upload_zip(api, pid, {"a/1.jpg": big_jpeg(1), "a/2.jpg": big_jpeg(2)})
    gone = images_by_name(db, pid)["1.jpg"]
    ImageStore(settings.data_dir).original_path(gone.sha256).unlink()
    archive = export(api, pid)
    assert [n for n in archive.namelist() if n.endswith(".jpg")] == ["a/2.jpg"]
    counts = manifest(archive)["counts"]
    assert counts["total"] == 1
    assert counts["left_out"]["missing_file"] == 1
    # Without the files, nothing is missing.
    csv_only = export(api, pid, format="csv", images="false")
    assert json.loads(csv_only.read("manifest.json"))["counts"]["total"] == 2


def test_the_route_streams(api_as: ClientFor, admin: User) -> None:
    api: TestClient = api_as(admin)
    pid = new_project(api, "Stream")
    upload_zip(api, pid, {"a/1.jpg": big_jpeg(1)})
    with api.stream("GET", f"/api/v1/projects/{pid}/export") as resp:
        assert resp.status_code == 200
        assert "content-length" not in resp.headers  # chunked: never built whole
        assert sum(len(c) for c in resp.iter_bytes()) > 100_000
