"""Labels files applied to images already in a project: an export's CSV and COCO json.

Through the real routes (`POST /api/v1/projects/{id}/labels-csv` and the project page's
form), with real photos; each bad row or entry gets its own error and the good ones go in.
"""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.config import Settings
from app.imports.labels_csv import MAX_PATHS, limit_paths, parse
from tests.conftest import ClientFor, UserFactory, csrf_from
from tests.images.labels_helpers import (
    CSV_HEAD,
    Photos,
    coco,
    flowers,
    labels,
    new_project,
    post_labels,
    upload,
)
from tests.support.processes import curator_cmd, curator_env


@pytest.fixture
def photos() -> Photos:
    return flowers(8)


@pytest.fixture
def api(api_as: ClientFor, manager: User) -> TestClient:
    return api_as(manager)


@pytest.fixture
def pid(api: TestClient, photos: Photos) -> int:
    pid = new_project(api, "Flowers")
    assert len(upload(api, pid, photos.files)["imported"]) == 8
    return pid


def test_an_export_csv_is_read_by_its_header_and_matched_on_sha256(
    api: TestClient, pid: int, photos: Photos, db: Session
) -> None:
    sha = photos.sha
    tail = "640,480,manual,mona,2026-01-01T00:00:00+00:00"
    rows = [
        CSV_HEAD,
        f"images/train/Asteraceae/daisy/a.jpg,Asteraceae/daisy,train,1,{sha('p0.jpg')},{tail}",
        f"renamed.jpg,iris,,2,{sha('p1.jpg').upper()},{tail}",  # the content decides
        f"p2.jpg,iris,,3,,{tail}",  # no sha256: the filename
        f"p0.jpg,iris,,4,{sha('p5.jpg')},{tail}",  # names p0.jpg, has p5's content: p5
        f"x.jpg,iris,,5,{'ab' * 32},{tail}",
        f"p3.jpg,iris,,6,not-hex,{tail}",
        f"p3.jpg,,,7,{sha('p3.jpg')},{tail}",
        "p4.jpg,iris,only three",
        f",iris,,9,,{tail}",
    ]
    resp = post_labels(api, pid, "labels.csv", "\n".join(rows).encode())
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["applied"], body["unchanged"]) == (4, 0)
    errors = {e["line"]: e["error"] for e in body["errors"]}
    assert errors == {
        6: f"no image 'x.jpg' with sha256 {'ab' * 6}... in this project",
        7: "the sha256 is not 64 hex digits",
        8: "the category path is empty",
        9: "expected 10 columns, as in the header, got 3",
        10: "the row has neither a filename nor a sha256",
    }
    assert labels(db, pid) == {
        sha("p0.jpg"): "Asteraceae/daisy",
        sha("p1.jpg"): "iris",
        sha("p2.jpg"): "iris",
        sha("p5.jpg"): "iris",
    }
    p0 = api.get(f"/api/v1/projects/{pid}/images", params={"status": "labeled"}).json()
    first = next(i for i in p0["items"] if i["filename"] == "p0.jpg")
    history = api.get(f"/api/v1/images/{first['id']}/annotations").json()
    assert [(a["source"], a["username"]) for a in history] == [("imported", "mona")]


def test_a_rejected_row_is_refused_and_the_others_go_in(
    api: TestClient, pid: int, db: Session, photos: Photos
) -> None:
    csv = b"filename,category_path,status\np0.jpg,iris,rejected\np1.jpg,iris,labeled\n"
    body = post_labels(api, pid, "labels.csv", csv).json()
    assert body["applied"] == 1
    assert body["errors"] == [
        {"line": 2, "error": "a rejected image: rejections are not applied as labels"}
    ]
    assert labels(db, pid) == {photos.sha("p1.jpg"): "iris"}


def test_a_coco_file_labels_good_entries_and_names_each_bad_one(
    api: TestClient, pid: int, db: Session, photos: Photos
) -> None:
    long_name = "x" * 100_000
    images = [
        {"id": 1, "file_name": "p0.jpg"},
        {"id": 2, "file_name": "elsewhere/any.jpg", "sha256": photos.sha("p1.jpg")},
        {"id": 3, "file_name": "p2.jpg"},  # two annotations that disagree
        {"id": 4, "file_name": 12},
        {"id": 4, "file_name": "p3.jpg"},  # a second image with id 4
        "not an object",
        {"id": True, "file_name": "p4.jpg"},
        {"id": 8, "file_name": "p4.jpg", "sha256": "xyz"},
        {"id": 9, "file_name": long_name},
        {"id": 10, "file_name": "p5.jpg"},
        {"id": 11, "file_name": "p6.jpg"},
        {"id": "s12", "file_name": "p7.jpg"},  # string ids: some tools write them
    ]
    notes = [
        {"image_id": 1, "category_id": 1},
        {"image_id": 2, "category_id": 2},
        {"image_id": 3, "category_id": 1},
        {"image_id": 3, "category_id": 2},
        {"image_id": 4, "category_id": 1},
        {"image_id": 8, "category_id": 1},
        {"image_id": 9, "category_id": 2},
        {"image_id": 10, "category_id": 99},
        {"image_id": 11, "category_id": 3},
        {"image_id": 77, "category_id": 1},
        "nope",
        {"image_id": 1.5, "category_id": 1},
        {"image_id": 1, "category_id": [1]},
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5]},  # the same label again
        {"image_id": "s12", "category_id": "flat"},
    ]
    categories = [
        {"id": 1, "name": "daisy", "supercategory": "Asteraceae", "path": "Asteraceae/daisy"},
        {"id": 2, "name": "iris", "supercategory": "none"},
        {"id": 3, "name": "a"},
        {"id": 3, "name": "b"},
        {"id": {"nested": 1}, "name": "c"},
        {"id": "flat", "name": "rose", "supercategory": "Rosaceae"},
    ]
    resp = post_labels(api, pid, "annotations.json", coco(images, notes, categories))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["applied"], body["unchanged"]) == (3, 0)
    errors = {e["error"] for e in body["errors"]}
    assert errors == {
        "image #5: its id 4 is listed twice",
        "image #6: not an object with an integer 'id'",
        "image #7: not an object with an integer 'id'",
        "category #4: its id 3 is listed twice",
        "category #5: not an object with an integer 'id'",
        "image #3: its annotations give 2 different categories ('Asteraceae/daisy, iris')",
        "annotation #5: image id 4 is listed twice",
        "annotation #6: image #8: its 'sha256' is not 64 hex digits",
        "annotation #8: category_id 99 is not in 'categories'",
        "annotation #9: category 3: category id 3 is listed twice",
        "annotation #10: image_id 77 is not in 'images'",
        "annotation #11: not an object",
        "annotation #12: its 'image_id' is missing or not an integer",
        "annotation #13: its 'category_id' is missing or not an integer",
        f"image #9: no image named '{'x' * 116}... in this project",
    }
    assert labels(db, pid) == {
        photos.sha("p0.jpg"): "Asteraceae/daisy",
        photos.sha("p1.jpg"): "iris",
        photos.sha("p7.jpg"): "Rosaceae/rose",
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "The COCO file is not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"images": [], "annotations": []}', "has no 'categories' list"),
        (b'{"images": {}, "annotations": [], "categories": []}', "has no 'images' list"),
        (b'{"images": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", "nested too deeply"),
        (
            b'{"images": [], "categories": [], "annotations": [' + b"0," * 1_000_000 + b"0]}",
            "1,000,001 annotations; at most 1,000,000",
        ),
        (b'{"images": [{"id": 1' + b"0" * 5000 + b"}]}", "not valid JSON"),
        (b'{"pad": "' + b"x" * 64 * 2**20 + b'"}', "over the 64 MiB limit"),
        (b'{"images": "\xff\xfe"}', "not UTF-8"),
    ],
    ids=[
        "not-json",
        "array",
        "no-categories",
        "wrong-type",
        "deep",
        "too-many",
        "huge-int",
        "oversized",
        "not-utf8",
    ],
)
def test_a_coco_file_that_cannot_be_read_is_refused_whole(
    api: TestClient, data: bytes, message: str
) -> None:
    pid = new_project(api, "Empty")
    resp = post_labels(api, pid, "annotations.json", data)
    assert resp.status_code == 422, resp.text
    assert message in resp.json()["detail"]
    assert api.get(f"/api/v1/projects/{pid}/categories").json() == []


def test_names_that_cannot_be_categories_are_errors_of_their_images(
    api: TestClient, pid: int, db: Session, photos: Photos
) -> None:
    deep = "/".join(f"l{n}" for n in range(25))
    categories = [
        {"id": 1, "name": "a/b"},  # a name, not a path: "/" is refused
        {"id": 2, "name": "deep", "path": deep},
        {"id": 3, "name": "ok", "path": "Asteraceae/daisy"},
        {"id": 4, "name": "bad", "path": 7},
    ]
    images = [{"id": n, "file_name": f"p{n}.jpg"} for n in range(4)]
    notes = [{"image_id": n, "category_id": n + 1} for n in range(4)]
    body = post_labels(api, pid, "a.json", coco(images, notes, categories)).json()
    assert body["applied"] == 1
    messages = [e["error"] for e in body["errors"]]
    assert messages[0].startswith("image #1: the folder 'a/b' cannot be a category")
    assert messages[1].startswith("image #2: the folder ")
    assert "deeper than 20" in messages[1]
    assert messages[2] == "annotation #4: category 4: its 'path' is not a category path"
    assert labels(db, pid) == {photos.sha("p2.jpg"): "Asteraceae/daisy"}


def test_the_project_page_applies_an_export_csv(
    browser_as: ClientFor, manager: User, pid: int, photos: Photos, db: Session
) -> None:
    page = browser_as(manager)
    token = csrf_from(page, f"/projects/{pid}")
    csv = f"{CSV_HEAD}\nimages/iris/a.jpg,iris,,1,{photos.sha('p0.jpg')},1,1,manual,mona,\n"
    resp = page.post(
        f"/projects/{pid}/labels-csv",
        data={"csrf_token": token},
        files={"file": ("labels.csv", csv.encode(), "text/csv")},
    )
    assert resp.status_code == 303
    shown = page.get(resp.headers["location"]).text
    assert "Labels from labels.csv: 1 applied, 0 unchanged, 0 errors." in shown
    assert labels(db, pid) == {photos.sha("p0.jpg"): "iris"}


def test_only_this_projects_managers_may_apply_labels_files(
    api_as: ClientFor,
    browser_as: ClientFor,
    api: TestClient,
    pid: int,
    make_user: UserFactory,
    db: Session,
    photos: Photos,
) -> None:
    make_user(Role.labeler, "lena")
    added = api.post(f"/api/v1/projects/{pid}/members", json={"username": "lena"})
    assert added.status_code == 201, added.text
    other = api_as(make_user(Role.manager, "otto"))
    new_project(other, "Otto's own")
    data = coco([{"id": 1, "file_name": "p0.jpg"}], [{"image_id": 1, "category_id": 2}])
    sheet = f"{CSV_HEAD}\na.jpg,iris,,1,{photos.sha('p0.jpg')},1,1,,,\n".encode()
    labeler = api_as(db.query(User).filter_by(username="lena").one())
    for file in (("annotations.json", data), ("labels.csv", sheet)):
        assert post_labels(labeler, pid, *file).status_code == 403
        assert post_labels(other, pid, *file).status_code == 404
    page = browser_as(db.query(User).filter_by(username="lena").one())
    resp = page.post(
        f"/projects/{pid}/labels-csv",
        data={"csrf_token": csrf_from(page, f"/projects/{pid}")},
        files={"file": ("annotations.json", data)},
    )
    assert resp.status_code == 403
    assert labels(db, pid) == {}
    assert api.get(f"/api/v1/projects/{pid}/categories").json() == []
    assert json.loads(data)["annotations"]  # the refused file did name a label


@pytest.mark.slow
def test_curator_import_applies_an_export_csv_and_a_coco_json(
    api: TestClient, pid: int, photos: Photos, db: Session, settings: Settings, tmp_path: Path
) -> None:
    rows = "\n".join(f"p{n}.jpg,{'Asteraceae/daisy' if n % 2 else 'iris'}" for n in range(8))
    assert post_labels(api, pid, "two-columns.csv", rows.encode()).json()["applied"] == 8
    folder = tmp_path / "photos"
    folder.mkdir()
    for n, data in enumerate(photos.files.values()):
        (folder / f"renamed-{n}.jpg").write_bytes(data)
    for fmt, sheet in (("csv", "labels.csv"), ("coco", "annotations.json")):
        resp = api.get(f"/api/v1/projects/{pid}/export", params={"format": fmt, "images": False})
        assert resp.status_code == 200, resp.text
        (tmp_path / sheet).write_bytes(zipfile.ZipFile(io.BytesIO(resp.content)).read(sheet))
        copy = new_project(api, f"From {sheet}")
        done = subprocess.run(
            curator_cmd(
                "import", str(copy), str(folder), "--user", "mona", "--workers", "1",
                "--labels-csv", str(tmp_path / sheet),
            ),
            env=curator_env(settings.data_dir, COLUMNS="200"),
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"Labels from {sheet}: 8 applied, 0 unchanged, 0 errors." in done.stdout
        assert labels(db, copy) == labels(db, pid)


@pytest.mark.parametrize(
    ("fmt", "flags"),
    [("imagefolder", ["--labels-from-folders"]), ("csv", []), ("coco", [])],
)
def test_curator_import_of_an_unpacked_export_has_no_errors_and_the_same_labels(
    api: TestClient,
    pid: int,
    db: Session,
    settings: Settings,
    tmp_path: Path,
    fmt: str,
    flags: list[str],
) -> None:
    rows = "\n".join(f"p{n}.jpg,{'Asteraceae/daisy' if n % 2 else 'iris'}" for n in range(8))
    assert post_labels(api, pid, "two-columns.csv", rows.encode()).json()["applied"] == 8
    resp = api.get(f"/api/v1/projects/{pid}/export", params={"format": fmt})
    assert resp.status_code == 200, resp.text
    folder = tmp_path / fmt
    zipfile.ZipFile(io.BytesIO(resp.content)).extractall(folder)
    assert (folder / "manifest.json").is_file()
    copy = new_project(api, f"Unpacked {fmt}")
    done = subprocess.run(
        curator_cmd("import", str(copy), str(folder), "--user", "mona", "--workers", "1", *flags),
        env=curator_env(settings.data_dir, COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "8 imported" in done.stdout, done.stdout
    assert "0 errors" in done.stdout, done.stdout + done.stderr
    assert labels(db, copy) == labels(db, pid)


def test_curator_import_refuses_to_guess_between_two_labels_files(
    settings: Settings, tmp_path: Path, pid: int
) -> None:
    (tmp_path / "manifest.json").write_text("{}")  # an unpacked export...
    (tmp_path / "labels.csv").write_text("filename,category_path\n")  # ...with two sheets
    (tmp_path / "annotations.json").write_text("{}")
    done = subprocess.run(
        curator_cmd("import", str(pid), str(tmp_path), "--user", "mona"),
        env=curator_env(settings.data_dir, COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert "choose one with --labels-csv" in done.stderr


def test_a_file_naming_more_categories_than_a_taxonomy_may_hold_is_cut_with_errors() -> None:
    rows = "\n".join(f"p{n}.jpg,family/kind {n}" for n in range(MAX_PATHS + 2))
    parsed = parse(rows.encode())
    limit_paths(parsed)
    assert len(parsed.items) == MAX_PATHS
    assert parsed.errors == [
        (MAX_PATHS + 1, f"more than {MAX_PATHS} categories in one file"),
        (MAX_PATHS + 2, f"more than {MAX_PATHS} categories in one file"),
    ]
