"""Export as ImageFolder, import that zip with labels from folders: the same labels."""

from __future__ import annotations

import io
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.images.models import Image, ImageStatus
from app.projects.models import Project
from app.taxonomy.service import load_tree
from tests.conftest import ClientFor
from tests.exports.helpers import images_by_name, jpeg, layout, make_zip, new_project, reject
from tests.support.env import require

FLOWERS = Path("/work/shared/datasets/flowers12/train")


def labels(db: Session, pid: int) -> dict[str, str]:
    """sha256 -> category path of the project's labeled images."""
    db.expire_all()
    tree = load_tree(db, db.get_one(Project, pid))
    rows = db.scalars(
        select(Image).where(Image.project_id == pid, Image.status == ImageStatus.labeled)
    )
    return {i.sha256: "/".join(tree.path(tree.by_id[i.category_id or 0])) for i in rows}


def round_trip(api: TestClient, db: Session, pid: int) -> dict[str, str]:
    resp = api.get(f"/api/v1/projects/{pid}/export")
    assert resp.status_code == 200, resp.text
    copy = new_project(api, f"Copy of {pid}")
    uploaded = api.post(
        f"/api/v1/projects/{copy}/images?mode=sync",
        files=[("files", ("export.zip", io.BytesIO(resp.content), "application/zip"))],
        data={"labels_from_folders": "true"},
    )
    assert uploaded.status_code == 200, uploaded.text
    # manifest.json is the export's own: skipped, not reported as a bad image.
    assert uploaded.json()["errors"] == []
    return labels(db, copy)


def test_round_trip_keeps_every_label(api_as: ClientFor, admin: User, db: Session) -> None:
    api = api_as(admin)
    pid = new_project(api, "Original")
    entries = layout({"Asteraceae/daisy": 3, "Asteraceae": 2, "Rosaceae/rose/red": 2, "tulip": 2})
    entries |= {
        'Fleurs d\'été/日本 "q"/a.jpg': jpeg(101),
        "tulip/same.jpg": jpeg(102),
        "tulip/sub/same.jpg": jpeg(103),  # a deeper label, and a name the parent also has
        "Asteraceae/daisy/SAME.JPG": jpeg(104),
        "Asteraceae/daisy/same.jpg": jpeg(105),  # differs from the last only by case
    }
    api.post(
        f"/api/v1/projects/{pid}/images?mode=sync",
        files=[("files", ("x.zip", io.BytesIO(make_zip(entries)), "application/zip"))],
        data={"labels_from_folders": "true"},
    )
    reject(db, images_by_name(db, pid)["img3-0.jpg"], admin.id)
    original = labels(db, pid)
    assert len(original) == len(entries) - 1
    assert round_trip(api, db, pid) == original


def test_round_trip_with_real_photos(api_as: ClientFor, admin: User, db: Session) -> None:
    require(FLOWERS.is_dir(), f"the flowers12 photos are not at {FLOWERS}")
    api = api_as(admin)
    pid = new_project(api, "Flowers")
    entries = {
        f"flowers/{folder.name}/{f.name}": f.read_bytes()
        for folder in sorted(FLOWERS.iterdir())[:6]
        for f in sorted(folder.iterdir())[:5]
    }
    api.post(
        f"/api/v1/projects/{pid}/images?mode=sync",
        files=[("files", ("x.zip", io.BytesIO(make_zip(entries)), "application/zip"))],
        data={"labels_from_folders": "true"},
    )
    original = labels(db, pid)
    assert len(original) == 30
    assert round_trip(api, db, pid) == original
