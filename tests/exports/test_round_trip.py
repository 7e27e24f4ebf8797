"""Export as ImageFolder, import that zip with labels from folders: the same labels."""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.images.models import Image, ImageStatus
from app.projects.models import Project
from app.taxonomy.service import load_tree
from tests.conftest import ClientFor
from tests.exports.helpers import (
    images_by_name,
    jpeg,
    layout,
    make_zip,
    new_project,
    reject,
    upload_zip,
)
from tests.support.datasets import FLOWERS12
from tests.support.env import require

FLOWERS = FLOWERS12 / "train"


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


# Each format out and back in, with real photos under a two-level taxonomy. The original
# also has a rejected and an unlabeled image, which no export carries.
TAXONOMY = {
    "Ranunculaceae/windflower": "windflower",
    "Ranunculaceae/buttercup": "buttercup",
    "Asteraceae/daisy": "daisy",
    "Asteraceae": "dandelion",  # labeled at the family level
    "iris": "iris",
}


@dataclass
class Flowers:
    api: TestClient
    pid: int
    photos: dict[str, bytes]  # as uploaded: path in the zip -> bytes


@pytest.fixture
def flowers(api_as: ClientFor, manager: User, db: Session) -> Flowers:
    """A manager's project of 24 labeled real photos, plus one rejected and one unlabeled."""
    require(FLOWERS.is_dir(), f"the flowers12 photos are not at {FLOWERS}")
    api = api_as(manager)
    pid = new_project(api, "Flowers")
    photos = {
        f"{path}/{f.name}": f.read_bytes()
        for path, folder in TAXONOMY.items()
        for f in sorted((FLOWERS / folder).iterdir())[:5]
    }
    photos["loose.jpg"] = sorted((FLOWERS / "pansy").iterdir())[0].read_bytes()
    upload_zip(api, pid, photos)
    reject(db, images_by_name(db, pid)[sorted(os.listdir(FLOWERS / "iris"))[0]], manager.id)
    return Flowers(api, pid, photos)


def fresh_copy(api: TestClient, name: str, zip_bytes: bytes, **form: str) -> tuple[int, Any]:
    copy = new_project(api, name)
    resp = api.post(
        f"/api/v1/projects/{copy}/images?mode=sync",
        files=[("files", ("export.zip", io.BytesIO(zip_bytes), "application/zip"))],
        data=form,
    )
    assert resp.status_code == 200, resp.text
    return copy, resp.json()


def test_the_flowers_have_what_the_round_trips_need(flowers: Flowers, db: Session) -> None:
    api, pid = flowers.api, flowers.pid
    original = labels(db, pid)
    assert len(original) == 24  # 25 photos, one rejected; loose.jpg is unlabeled
    assert set(original.values()) == set(TAXONOMY)
    counts = api.get(f"/api/v1/projects/{pid}/images", params={"status": "unlabeled"}).json()
    assert counts["total"] == 1


@pytest.mark.parametrize("split", [False, True])
def test_imagefolder_comes_back_with_the_same_labels_and_no_errors(
    flowers: Flowers, db: Session, split: bool
) -> None:
    api, pid = flowers.api, flowers.pid
    resp = api.get(f"/api/v1/projects/{pid}/export", params={"split": split})
    assert resp.status_code == 200, resp.text
    names = zipfile.ZipFile(io.BytesIO(resp.content)).namelist()
    assert "manifest.json" in names
    assert any(n.startswith("train/") for n in names) is split
    copy, result = fresh_copy(api, "Copy", resp.content, labels_from_folders="true")
    assert result["errors"] == []
    assert len(result["imported"]) == 24
    # With a split, train/val/test are the export's folders, not categories.
    assert labels(db, copy) == labels(db, pid)


@pytest.mark.parametrize("fmt", ["csv", "coco"])
def test_csv_and_coco_zips_come_back_with_the_same_labels(
    flowers: Flowers, db: Session, fmt: str
) -> None:
    api, pid = flowers.api, flowers.pid
    resp = api.get(f"/api/v1/projects/{pid}/export", params={"format": fmt, "split": True})
    assert resp.status_code == 200, resp.text
    # The labels file inside the zip labels the images; no folder labels are asked for.
    copy, result = fresh_copy(api, f"From {fmt}", resp.content)
    assert result["errors"] == []
    assert len(result["imported"]) == 24
    assert labels(db, copy) == labels(db, pid)
    paths = {c["path"] for c in api.get(f"/api/v1/projects/{copy}/categories").json()}
    assert paths == set(TAXONOMY) | {"Ranunculaceae"}  # no "images" or "train" category
    history = api.get(f"/api/v1/images/{result['imported'][0]['id']}/annotations").json()
    assert [a["source"] for a in history] == ["imported"]


@pytest.mark.parametrize(("fmt", "sheet"), [("csv", "labels.csv"), ("coco", "annotations.json")])
def test_a_labels_file_labels_an_unlabeled_copy_and_leaves_the_original_unchanged(
    flowers: Flowers, db: Session, fmt: str, sheet: str
) -> None:
    api, pid = flowers.api, flowers.pid
    resp = api.get(f"/api/v1/projects/{pid}/export", params={"format": fmt, "images": False})
    assert resp.status_code == 200, resp.text
    data = zipfile.ZipFile(io.BytesIO(resp.content)).read(sheet)
    # The same photos under other names and no folders: only the sha256 can match them.
    copy = new_project(api, "Unlabeled copy")
    renamed = {f"renamed-{n}.jpg": photo for n, photo in enumerate(flowers.photos.values())}
    upload_zip(api, copy, renamed, labels=False)
    assert labels(db, copy) == {}
    applied = api.post(f"/api/v1/projects/{copy}/labels-csv", files={"file": (sheet, data)})
    assert applied.status_code == 200, applied.text
    assert applied.json() == {"applied": 24, "unchanged": 0, "errors": []}
    assert labels(db, copy) == labels(db, pid)
    again = api.post(f"/api/v1/projects/{pid}/labels-csv", files={"file": (sheet, data)})
    assert again.json() == {"applied": 0, "unchanged": 24, "errors": []}


def test_a_coco_export_at_a_level_comes_back_at_that_level(flowers: Flowers, db: Session) -> None:
    api, pid = flowers.api, flowers.pid
    resp = api.get(f"/api/v1/projects/{pid}/export", params={"format": "coco", "level": 1})
    assert resp.status_code == 200, resp.text
    copy, result = fresh_copy(api, "Families", resp.content)
    assert result["errors"] == []
    expected = {sha: path.split("/")[0] for sha, path in labels(db, pid).items()}
    assert labels(db, copy) == expected
