"""The export endpoint: layouts, levels, what is left out, the manifest, access, bad input."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import User
from tests.conftest import ClientFor
from tests.exports.helpers import (
    category,
    export,
    files,
    images_by_name,
    jpeg,
    layout,
    manifest,
    new_project,
    reject,
    relabel,
    unlabel,
    upload_zip,
)

TREE = {"Asteraceae/daisy": 3, "Asteraceae/sunflower": 2, "Asteraceae": 1, "Rosaceae/rose": 2}


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


@pytest.fixture
def pid(api: TestClient) -> int:
    pid = new_project(api, "Flowers")
    upload_zip(api, pid, layout(TREE))
    return pid


def test_imagefolder_lays_out_category_paths(api: TestClient, pid: int) -> None:
    resp = api.get(f"/api/v1/projects/{pid}/export")
    assert resp.headers["content-disposition"] == 'attachment; filename="flowers-imagefolder.zip"'
    archive = export(api, pid)
    assert files(archive) == sorted(layout(TREE))
    assert archive.namelist()[-1] == "manifest.json"  # written last, with the real counts
    for info in archive.infolist():
        assert (info.compress_type == 8) == (info.filename == "manifest.json")


def test_roll_up_to_a_level_and_leave_out_labels_above_it(
    api: TestClient, pid: int, db: Session
) -> None:
    top = export(api, pid, level=1)
    assert {n.split("/")[0] for n in files(top)} == {"Asteraceae", "Rosaceae"}
    assert all(n.count("/") == 1 for n in files(top))
    assert manifest(top)["counts"]["per_class"] == {"Asteraceae": 6, "Rosaceae": 2}
    deep = export(api, pid, level=2)
    assert {n.rsplit("/", 1)[0] for n in files(deep)} == {
        "Asteraceae/daisy", "Asteraceae/sunflower", "Rosaceae/rose"
    }  # fmt: skip
    counts = manifest(deep)["counts"]
    assert counts["total"] == 7
    assert counts["left_out"]["above_level"] == 1  # the image labeled just "Asteraceae"
    assert [c["path"] for c in manifest(deep)["classes"]] == [
        "Asteraceae/daisy", "Asteraceae/sunflower", "Rosaceae/rose"
    ]  # fmt: skip


def test_an_empty_level_from_a_plain_html_form_means_no_level(api: TestClient, pid: int) -> None:
    blank = export(api, pid, level="")
    assert files(blank) == files(export(api, pid))


def test_a_level_deeper_than_the_taxonomy_is_refused(api: TestClient, pid: int) -> None:
    resp = api.get(f"/api/v1/projects/{pid}/export", params={"level": 3})
    assert resp.status_code == 422
    assert "deeper than the taxonomy" in resp.json()["detail"]


def test_rejected_and_unlabeled_images_are_never_exported(
    api: TestClient, pid: int, db: Session, admin: User
) -> None:
    images = images_by_name(db, pid)
    reject(db, images["img0-0.jpg"], admin.id)
    unlabel(db, images["img6-0.jpg"], admin.id)
    relabel(db, images["img1-1.jpg"], admin.id, category(db, pid, "rose").id)
    for fmt in ("imagefolder", "csv", "coco"):
        archive = export(api, pid, format=fmt)
        names = " ".join(archive.namelist())
        assert "img0-0" not in names
        assert "img6-0" not in names
        counts = manifest(archive)["counts"]
        assert counts["total"] == 6
        assert counts["left_out"] | {"above_level": 0} == {
            "rejected": 1, "unlabeled": 1, "above_level": 0, "missing_file": 0,
            "changed_during_export": 0,
        }  # fmt: skip
    archive = export(api, pid)
    assert "Rosaceae/rose/img1-1.jpg" in archive.namelist()  # the latest label wins
    sources = manifest(archive)["label_sources"]
    assert sources["by_source"] == {"imported": 5, "manual": 1}
    assert sources["by_annotator"] == {"root": 6}


def test_csv_rows_describe_each_image(api: TestClient, pid: int, db: Session) -> None:
    archive = export(api, pid, format="csv", level=1)
    rows = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
    assert list(rows[0]) == [
        "filename", "category_path", "split", "image_id", "sha256", "width", "height",
        "source", "annotator", "annotated_at",
    ]  # fmt: skip
    assert len(rows) == 8
    by_id = {i.id: i for i in images_by_name(db, pid).values()}
    for row in rows:
        image = by_id[int(row["image_id"])]
        assert row["filename"].startswith(f"images/{row['category_path']}/")
        assert archive.read(row["filename"]) is not None
        assert row["sha256"] == image.sha256
        assert (int(row["width"]), int(row["height"])) == (48, 32)
        assert (row["source"], row["annotator"], row["split"]) == ("imported", "root", "")
        assert row["annotated_at"].endswith("+00:00")
    assert {r["category_path"] for r in rows} == {"Asteraceae", "Rosaceae"}


def test_csv_and_coco_without_images_name_the_original_files(api: TestClient, pid: int) -> None:
    archive = export(api, pid, format="csv", images="false")
    assert sorted(archive.namelist()) == ["labels.csv", "manifest.json"]
    rows = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
    assert sorted(r["filename"] for r in rows) == sorted(layout(TREE))
    coco = export(api, pid, format="coco", images="false")
    assert sorted(coco.namelist()) == ["annotations.json", "manifest.json"]
    assert manifest(coco)["images_included"] is False


def test_coco_is_classification_with_supercategories(api: TestClient, pid: int) -> None:
    archive = export(api, pid, format="coco", split="true")
    doc = json.loads(archive.read("annotations.json"))
    cats = {c["name"]: c for c in doc["categories"]}
    assert cats["daisy"]["supercategory"] == "Asteraceae"
    assert cats["Asteraceae"]["supercategory"] is None
    assert cats["rose"]["path"] == "Rosaceae/rose"
    assert len(doc["images"]) == len(doc["annotations"]) == 8
    images = {i["id"]: i for i in doc["images"]}
    for note in doc["annotations"]:
        image = images[note["image_id"]]
        assert "bbox" not in note
        assert image["split"] in {"train", "val", "test"}
        assert image["file_name"].startswith(f"images/{image['split']}/")
        assert archive.read(image["file_name"])
        path = next(c["path"] for c in doc["categories"] if c["id"] == note["category_id"])
        assert image["file_name"].split("/")[2:-1] == path.split("/")
    at_level = json.loads(export(api, pid, format="coco", level=2).read("annotations.json"))
    assert [c["name"] for c in at_level["categories"]] == ["daisy", "sunflower", "rose"]


def test_manifest_holds_settings_counts_and_taxonomy(api: TestClient, pid: int) -> None:
    doc = manifest(export(api, pid, split="true", ratios="0.5,0.25,0.25", seed=9, level=1))
    assert doc["project"] == {"id": pid, "name": "Flowers"}
    assert doc["format"] == "imagefolder"
    assert doc["level"] == 1
    assert doc["split"]["enabled"] is True
    assert doc["split"]["seed"] == 9
    assert doc["split"]["ratios"] == {"train": 0.5, "val": 0.25, "test": 0.25}
    per_split = doc["counts"]["per_split"]
    assert sum(sum(c.values()) for c in per_split.values()) == doc["counts"]["total"] == 8
    assert per_split["train"] == {"Asteraceae": 3, "Rosaceae": 1}
    assert [n["path"] for n in doc["taxonomy"]] == [
        "Asteraceae", "Asteraceae/daisy", "Asteraceae/sunflower", "Rosaceae", "Rosaceae/rose"
    ]  # fmt: skip
    assert all({"id", "name", "parent_id", "depth"} <= set(n) for n in doc["taxonomy"])
    assert doc["exported_at"].endswith("+00:00")


def test_basename_collisions_become_unique_deterministically(api: TestClient) -> None:
    pid = new_project(api, "Clash")
    upload_zip(api, pid, {"a/x/same.jpg": jpeg(1), "a/y/same.jpg": jpeg(2), "a/SAME.jpg": jpeg(3)})
    names = files(export(api, pid, level=1))
    assert names == ["a/SAME-3.jpg", "a/same-2.jpg", "a/same.jpg"]  # first by id keeps it
    assert files(export(api, pid, level=1)) == names


def test_hostile_names_stay_inside_the_zip(api: TestClient, db: Session, admin: User) -> None:
    pid = new_project(api, '../../etc "x"; filename=evil.sh')
    upload_zip(
        api,
        pid,
        {'l\'été "q"/日本/z.jpg': jpeg(3), "ok/..hidden.jpg": jpeg(4), "ok/a.jpg": jpeg(5)},
    )
    # Names the API accepts but archive readers refuse or misread: only dots, a drive.
    images = images_by_name(db, pid)
    for name, image in (("...", "..hidden.jpg"), ("C: drive", "a.jpg")):
        resp = api.post(f"/api/v1/projects/{pid}/categories", json={"name": name})
        assert resp.status_code == 201, resp.text
        relabel(db, images[image], admin.id, resp.json()["id"])
    resp = api.get(f"/api/v1/projects/{pid}/export")
    disposition = resp.headers["content-disposition"]
    assert disposition == 'attachment; filename="etc-x-filename-evil-sh-imagefolder.zip"'
    names = zipfile.ZipFile(io.BytesIO(resp.content)).namelist()
    for name in names:
        assert not name.startswith(("/", "\\"))
        assert "\\" not in name
        assert all(part.strip(". ") for part in name.split("/"))
    assert sorted(names) == sorted(
        ['l\'été "q"/日本/z.jpg', "_.../image-2.jpg", "_C: drive/a.jpg", "manifest.json"]
    )
