"""Zips that carry their own labels, or an export's metadata, uploaded to the images route."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.config import Settings
from app.main import create_app
from tests.conftest import PASSWORD, ClientFor, UserFactory
from tests.images.labels_helpers import (
    CSV_HEAD,
    Photos,
    coco,
    flowers,
    labels,
    new_project,
    upload,
    zip_of,
)
from tests.support.processes import curator_cmd, curator_env, running, wait_for


@pytest.fixture
def photos() -> Photos:
    return flowers(6)


@pytest.fixture
def api(api_as: ClientFor, manager: User) -> TestClient:
    return api_as(manager)


def test_an_exports_metadata_and_os_junk_are_skipped_without_errors(
    api: TestClient, photos: Photos
) -> None:
    pid = new_project(api, "Flowers")
    entries = {f"iris/{name}": data for name, data in photos.files.items()}
    entries |= {
        "manifest.json": json.dumps({"curator_export": 1, "format": "imagefolder"}).encode(),
        "train/manifest.json": b"not even json",  # a manifest anywhere is no image
        "__MACOSX/iris/._p0.jpg": b"resource fork",
        "iris/.DS_Store": b"finder",
    }
    result = upload(api, pid, entries, labels_from_folders="true")
    assert result["errors"] == []
    assert len(result["imported"]) == 6


def test_a_labels_file_in_the_zip_labels_its_images_and_reports_its_bad_rows(
    api: TestClient, photos: Photos, db: Session
) -> None:
    pid = new_project(api, "Flowers")
    sha = photos.sha
    sheet = "\n".join(
        [
            CSV_HEAD,
            f"images/a/p0.jpg,Asteraceae/daisy,,1,{sha('p0.jpg')},1,1,,,",  # by content
            "images/iris/p1.jpg,iris,,2,,1,1,,,",  # by its path in the zip
            "p2.jpg,iris,,3,,1,1,,,",  # by a base name only this row has
            f"gone.jpg,iris,,4,{'cd' * 32},1,1,,,",  # a file that is not in the zip
            "images/iris/p3.jpg,,,5,,1,1,,,",
            "short,row",
        ]
    )
    entries = {f"images/{'a' if n == 'p0.jpg' else 'iris'}/{n}": d for n, d in photos.files.items()}
    entries["labels.csv"] = sheet.encode()
    result = upload(api, pid, entries, labels_from_folders="true")
    assert len(result["imported"]) == 6
    assert result["errors"] == [
        {"filename": "labels.csv", "error": "line 6: the category path is empty"},
        {"filename": "labels.csv", "error": "line 7: expected 10 columns, as in the header, got 2"},
        {
            "filename": "labels.csv",
            "error": "1 of its labels name no image imported from this upload "
            "(the first: line 5, 'gone.jpg')",
        },
    ]
    # What the file names takes its label; the rest falls back to its folders.
    assert labels(db, pid) == {
        sha("p0.jpg"): "Asteraceae/daisy",
        sha("p1.jpg"): "iris",
        sha("p2.jpg"): "iris",
        sha("p3.jpg"): "images/iris",
        sha("p4.jpg"): "images/iris",
        sha("p5.jpg"): "images/iris",
    }


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("annotations.json", b"{broken", "The COCO file is not valid JSON"),
        ("info.json", b'{"about": "these photos"}', "The COCO file has no 'images' list."),
        ("annotations.json", b'{"images": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested"),
        ("labels.csv", b"\xff\xfe\x00bad", "The CSV is not UTF-8 text."),
        ("big.json", b"{" + b" " * (3 * 2**20) + b"}", "compresses more than 200:1"),
    ],
    ids=["not-json", "not-coco", "deep", "not-utf8", "bomb"],
)
def test_a_bad_labels_file_is_one_error_and_the_images_still_go_in(
    api: TestClient, photos: Photos, db: Session, name: str, data: bytes, error: str
) -> None:
    pid = new_project(api, "Flowers")
    result = upload(api, pid, {**photos.files, name: data})
    assert len(result["imported"]) == 6
    assert [e["filename"] for e in result["errors"]] == [name]
    assert error in result["errors"][0]["error"]
    assert labels(db, pid) == {}


def test_a_coco_zip_with_bad_entries_labels_the_good_ones(
    api: TestClient, photos: Photos, db: Session
) -> None:
    pid = new_project(api, "Flowers")
    images = [
        {"id": 1, "file_name": "images/p0.jpg"},
        {"id": 2, "file_name": "p1.jpg", "sha256": photos.sha("p1.jpg")},
        {"id": 3, "file_name": "images/p2.jpg"},
        {"id": 4, "file_name": "images/p3.jpg"},
    ]
    notes = [
        {"image_id": 1, "category_id": 1},
        {"image_id": 2, "category_id": 2},
        {"image_id": 3, "category_id": 42},
        {"image_id": 4, "category_id": 1},
        {"image_id": 4, "category_id": 2},
    ]
    entries = {f"images/{n}": d for n, d in photos.files.items()}
    entries["annotations.json"] = coco(images, notes)
    result = upload(api, pid, entries)
    assert len(result["imported"]) == 6
    assert [e["error"] for e in result["errors"]] == [
        "annotation #3: category_id 42 is not in 'categories'",
        "image #4: its annotations give 2 different categories ('Asteraceae/daisy, iris')",
    ]
    assert labels(db, pid) == {
        photos.sha("p0.jpg"): "Asteraceae/daisy",
        photos.sha("p1.jpg"): "iris",
    }


def test_only_this_projects_managers_may_upload_a_labeled_zip(
    api_as: ClientFor, api: TestClient, photos: Photos, make_user: UserFactory, db: Session
) -> None:
    pid = new_project(api, "Flowers")
    lena = make_user(Role.labeler, "lena")
    assert api.post(f"/api/v1/projects/{pid}/members", json={"username": "lena"}).status_code == 201
    other = api_as(make_user(Role.manager, "otto"))
    new_project(other, "Otto's own")
    images = [{"id": 1, "file_name": "p0.jpg"}]
    entries = {
        **photos.files,
        "annotations.json": coco(images, [{"image_id": 1, "category_id": 2}]),
    }
    parts = [("files", ("labeled.zip", zip_of(entries), "application/zip"))]
    url = f"/api/v1/projects/{pid}/images?mode=sync"
    assert api_as(lena).post(url, files=parts).status_code == 403
    assert other.post(url, files=parts).status_code == 404
    assert api.get(f"/api/v1/projects/{pid}/images").json()["total"] == 0
    assert api.get(f"/api/v1/projects/{pid}/categories").json() == []


@pytest.mark.slow
def test_a_background_import_applies_the_zips_coco_labels(
    settings: Settings, manager: User, db: Session, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"sync_import_max_files": 4})
    photos = flowers(12)
    api = TestClient(create_app(settings))
    token = api.post("/api/v1/auth/token", data={"username": "mona", "password": PASSWORD})
    api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    pid = new_project(api, "Flowers")
    names = sorted(photos.files)
    images = [{"id": n, "file_name": f"images/{name}"} for n, name in enumerate(names)]
    notes = [{"image_id": n, "category_id": 1 + n % 2} for n in range(len(names) - 1)]
    entries = {f"images/{name}": photos.files[name] for name in names}
    entries |= {"annotations.json": coco(images, notes), "manifest.json": b"{}"}
    resp = api.post(
        f"/api/v1/projects/{pid}/images",
        files=[("files", ("export.zip", io.BytesIO(zip_of(entries)), "application/zip"))],
    )
    assert resp.status_code == 202, resp.text
    job = resp.json()["job"]["id"]
    log = tmp_path / "worker.log"
    with running(curator_cmd("worker", "--queues", "ingest"), curator_env(settings.data_dir), log):
        try:
            wait_for(
                lambda: api.get(f"/api/v1/imports/{job}").json()["status"] == "succeeded",
                timeout=120,
                what="the import job",
            )
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{log.read_text()}") from None
    done = api.get(f"/api/v1/imports/{job}").json()
    assert (done["imported"], done["errors"], done["labeled"]) == (12, 0, 11)
    expected = {
        photos.sha(name): "Asteraceae/daisy" if n % 2 == 0 else "iris"
        for n, name in enumerate(names[:-1])
    }
    assert labels(db, pid) == expected
