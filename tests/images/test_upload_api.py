"""POST /projects/{id}/images: each file gets its own verdict, and good files always go in."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image as PILImage
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.config import Settings
from app.images.models import Image, ImportBatch
from app.labeling.models import Annotation
from app.main import create_app
from tests.conftest import ClientFor, UserFactory
from tests.images import corpus
from tests.images.helpers import file_part, jpegs, make_zip, new_project, upload


def errors_by_name(body: dict[str, object]) -> dict[str, str]:
    return {e["filename"]: e["error"] for e in body["errors"]}  # type: ignore[attr-defined]


def test_images_and_a_zip_go_in_with_metadata_thumbnail_and_original(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    api = api_as(admin)
    pid = new_project(api)
    original = corpus.jpeg(seed=7)
    body = upload(
        api,
        pid,
        [
            file_part("cat.jpg", original, "image/jpeg"),
            file_part(
                "more.zip",
                make_zip([("a/b.png", corpus.png_rgba()), ("c.gif", corpus.gif_two_frames())]),
            ),
        ],
    )
    assert sorted(i["filename"] for i in body["imported"]) == ["a/b.png", "c.gif", "cat.jpg"]  # type: ignore[attr-defined]
    assert body["duplicates"] == []
    assert body["errors"] == []
    listing = api.get(f"/api/v1/projects/{pid}/images", params={"sort": "oldest"}).json()
    assert listing["total"] == 3
    first = listing["items"][0]
    assert (first["filename"], first["width"], first["height"], first["status"]) == (
        "cat.jpg",
        500,
        375,
        "unlabeled",
    )
    assert first["category_id"] is None
    file = api.get(first["file_url"])
    assert file.content == original
    assert file.headers["content-type"] == "image/jpeg"
    thumb = api.get(first["thumbnail_url"])
    assert thumb.headers["content-type"] == "image/jpeg"
    assert max(PILImage.open(io.BytesIO(thumb.content)).size) == 256
    alpha = api.get(listing["items"][1]["thumbnail_url"])
    assert alpha.headers["content-type"] == "image/webp"  # transparency kept
    batch = db.get(Image, first["id"])
    assert batch is not None
    assert batch.batch_id == body["batch_id"]


def test_every_supported_format_is_imported(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    pid = new_project(api)
    photo = corpus.photo(90, 60, seed=3)
    files = {
        "a.jpg": corpus.jpeg(seed=1),
        "cmyk.jpg": corpus.cmyk_jpeg(),
        "gray.jpg": corpus.encode(corpus.photo(90, 60, seed=4).convert("L"), "JPEG"),
        "palette.png": corpus.png_palette_with_transparency(),
        "alpha.png": corpus.png_rgba(),
        "deep.png": corpus.png_16bit_gray(),
        "b.webp": corpus.encode(photo, "WEBP"),
        "c.gif": corpus.gif_two_frames(),
        "d.bmp": corpus.encode(corpus.photo(90, 60, seed=5), "BMP"),
        "e.tiff": corpus.encode(corpus.photo(90, 60, seed=6), "TIFF"),
    }
    body = upload(api, pid, [file_part(n, d) for n, d in files.items()])
    assert body["errors"] == []
    assert sorted(i["filename"] for i in body["imported"]) == sorted(files)  # type: ignore[attr-defined]
    items = api.get(f"/api/v1/projects/{pid}/images", params={"limit": 50}).json()["items"]
    formats = {i["filename"]: i["format"] for i in items}
    assert formats["e.tiff"] == "tiff"
    assert formats["d.bmp"] == "bmp"
    assert formats["b.webp"] == "webp"
    for item in items:
        assert api.get(item["thumbnail_url"]).status_code == 200


def test_exif_orientation_is_applied_to_sizes_and_the_original_is_kept(
    api_as: ClientFor, admin: User
) -> None:
    api = api_as(admin)
    pid = new_project(api)
    data = corpus.jpeg_with_orientation(6)  # stored 400x300, shown rotated
    body = upload(api, pid, [file_part("rotated.jpg", data)])
    image = api.get(f"/api/v1/images/{body['imported'][0]['id']}").json()  # type: ignore[index]
    assert (image["width"], image["height"]) == (300, 400)
    assert api.get(image["file_url"]).content == data
    thumb = PILImage.open(io.BytesIO(api.get(image["thumbnail_url"]).content))
    assert thumb.size[0] < thumb.size[1]  # portrait, as shown


BAD_FILES = {
    "empty.jpg": (b"", "empty"),
    "notes.jpg": (b"just some text, not a picture\n" * 10, "not an image"),
    "truncated.jpg": (corpus.jpeg(seed=2)[:3000], "truncated or corrupt"),
    "bomb.png": (corpus.png_with_claimed_size(50_000, 50_000), "over the limit"),
    "icon.ico": (corpus.encode(corpus.photo(32, 32), "ICO"), "unsupported format"),
    "big.jpg": (corpus.jpeg(seed=9) + b"\0" * 300_000, "over the limit"),
}


@pytest.fixture
def small_limits_app(settings: Settings) -> FastAPI:
    limited = settings.model_copy(
        update={"max_image_bytes": 200_000, "max_image_pixels": 10_000_000}
    )
    return create_app(limited)


def test_each_bad_file_gets_its_own_error_and_the_good_ones_go_in(
    small_limits_app: FastAPI, admin: User
) -> None:
    with TestClient(small_limits_app) as api:
        token = api.post(
            "/api/v1/auth/token", data={"username": "root", "password": "correct horse battery"}
        )
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        pid = new_project(api)
        parts = [file_part(name, data) for name, (data, _) in BAD_FILES.items()]
        parts += jpegs(2)
        body = upload(api, pid, parts)
        errors = errors_by_name(body)
        assert set(errors) == set(BAD_FILES)
        for name, (_, reason) in BAD_FILES.items():
            assert reason in errors[name], (name, errors[name])
        assert "50000x50000" in errors["bomb.png"]
        assert [i["filename"] for i in body["imported"]] == ["img0.jpg", "img1.jpg"]  # type: ignore[attr-defined]
        assert api.get(f"/api/v1/projects/{pid}/images").json()["total"] == 2


def _symlink(name: str, target: bytes) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target


def _bad_names_zip() -> bytes:
    data = make_zip([("PLACEHOLDER.jpg", corpus.jpeg(seed=31)), ("good.jpg", corpus.jpeg(seed=32))])
    # Flag the names as UTF-8 while one is not: the whole archive is refused, clearly.
    raw = data.replace(b"PLACEHOLDER", b"caf\xe9-\xff\xfe-bad")
    return raw.replace(b"\x14\x00\x00\x00", b"\x14\x00\x00\x08")


def test_hostile_zips_refuse_entries_and_write_nothing_outside_the_data_dir(
    api_as: ClientFor, admin: User, settings: Settings, tmp_path: Path
) -> None:
    api = api_as(admin)
    pid = new_project(api)
    before = {p for p in tmp_path.parent.rglob("*") if settings.data_dir not in p.parents}
    bomb = make_zip([("bomb.jpg", b"\0" * 60_000_000)])
    hostile = make_zip(
        [
            ("../../escape.jpg", corpus.jpeg(seed=20)),
            ("/etc/absolute.jpg", corpus.jpeg(seed=21)),
            _symlink("link.jpg", b"/etc/passwd"),
            ("inner.zip", make_zip([("x.jpg", corpus.jpeg(seed=22))])),
            ("disguised.jpg", make_zip([("y.jpg", corpus.jpeg(seed=23))])),
            ("ok/fine.jpg", corpus.jpeg(seed=24)),
        ]
    )
    body = upload(
        api,
        pid,
        [
            file_part("hostile.zip", hostile),
            file_part("bomb.zip", bomb),
            file_part("corrupt.zip", hostile[:200]),
            file_part("names.zip", _bad_names_zip()),
        ],
    )
    errors = errors_by_name(body)
    assert "unsafe path" in errors["../../escape.jpg"]
    assert "unsafe path" in errors["/etc/absolute.jpg"]
    assert "symbolic links" in errors["link.jpg"]
    assert "nested archives" in errors["inner.zip"]
    assert "nested archives" in errors["disguised.jpg"]
    assert "zip bomb" in errors["bomb.jpg"] or "limit" in errors["bomb.jpg"]
    assert "corrupt" in errors["corrupt.zip"]
    assert "UTF-8" in errors["names.zip"]
    assert [i["filename"] for i in body["imported"]] == ["ok/fine.jpg"]  # type: ignore[attr-defined]
    after = {p for p in tmp_path.parent.rglob("*") if settings.data_dir not in p.parents}
    assert after == before
    assert not list(settings.data_dir.rglob("escape.jpg"))


def test_a_zip_over_the_archive_limit_is_refused_before_reading(
    settings: Settings, admin: User
) -> None:
    limited = create_app(settings.model_copy(update={"max_archive_bytes": 2**20}))
    with TestClient(limited) as api:
        token = api.post(
            "/api/v1/auth/token", data={"username": "root", "password": "correct horse battery"}
        )
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        pid = new_project(api)
        declared = make_zip([(f"{i}.jpg", b"\0" * 600_000) for i in range(3)])
        body = upload(api, pid, [file_part("huge.zip", declared), *jpegs(1)])
        assert "would uncompress to" in errors_by_name(body)["huge.zip"]
        assert len(body["imported"]) == 1  # type: ignore[arg-type]


def test_an_upload_over_the_request_limit_is_refused_with_413(
    settings: Settings, admin: User
) -> None:
    limited = create_app(settings.model_copy(update={"max_upload_bytes": 2**20}))
    with TestClient(limited) as api:
        token = api.post(
            "/api/v1/auth/token", data={"username": "root", "password": "correct horse battery"}
        )
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        pid = new_project(api)
        resp = api.post(
            f"/api/v1/projects/{pid}/images", files=[file_part("x.jpg", os.urandom(2 * 2**20))]
        )
        assert resp.status_code == 413
        assert isinstance(resp.json()["detail"], str)
        # Uploads of other sizes, and other routes, keep working.
        assert upload(api, pid, jpegs(1))["imported"]
        big_json = {"name": "x" * 2_000_000}
        assert api.post("/api/v1/projects", json=big_json).status_code == 413


def test_uploads_above_the_one_megabyte_form_limit_are_fine(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    pid = new_project(api)
    noise = PILImage.frombytes("RGB", (800, 600), os.urandom(800 * 600 * 3))
    large = corpus.encode(noise, "PNG")
    assert len(large) > 2**20
    assert len(upload(api, pid, [file_part("large.png", large)])["imported"]) == 1  # type: ignore[arg-type]


def test_exact_duplicates_are_reported_against_the_original(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    api = api_as(admin)
    pid = new_project(api)
    first = upload(api, pid, jpegs(2))
    original = first["imported"][0]["id"]  # type: ignore[index]
    again = upload(
        api,
        pid,
        [file_part("copy.jpg", corpus.jpeg(seed=0)), file_part("copy2.jpg", corpus.jpeg(seed=0))],
    )
    assert again["imported"] == []
    assert again["duplicates"] == [
        {"filename": "copy.jpg", "duplicate_of": original},
        {"filename": "copy2.jpg", "duplicate_of": original},
    ]
    assert db.scalar(select(func.count()).select_from(Image)) == 2
    # Another project is another collection: the same content goes in there.
    other = new_project(api, "Other")
    assert len(upload(api, other, jpegs(1))["imported"]) == 1  # type: ignore[arg-type]


def test_near_duplicates_are_imported_grouped_and_one_is_kept(
    api_as: ClientFor, admin: User
) -> None:
    api = api_as(admin)
    pid = new_project(api)
    picture = corpus.photo(seed=5)
    resized = corpus.encode(picture.resize((250, 188)), "JPEG", quality=70)
    recoded = corpus.encode(picture, "WEBP", quality=60)
    body = upload(
        api,
        pid,
        [
            file_part("orig.jpg", corpus.encode(picture, "JPEG", quality=92)),
            file_part("small.jpg", resized),
            file_part("recoded.webp", recoded),
            *jpegs(2, start=40),
        ],
    )
    ids = {i["filename"]: i["id"] for i in body["imported"]}  # type: ignore[attr-defined]
    assert len(ids) == 5
    groups = api.get(f"/api/v1/projects/{pid}/duplicate-groups").json()
    assert groups["total"] == 1
    group = groups["items"][0]
    assert group["id"] == ids["orig.jpg"]
    assert sorted(i["id"] for i in group["images"]) == sorted(
        [ids["orig.jpg"], ids["small.jpg"], ids["recoded.webp"]]
    )
    grouped = api.get(f"/api/v1/projects/{pid}/images", params={"group_id": group["id"]}).json()
    assert grouped["total"] == 3
    keep = api.post(
        f"/api/v1/projects/{pid}/duplicate-groups/{group['id']}/keep",
        json={"image_id": ids["small.jpg"]},
    )
    assert keep.json() == {"kept": ids["small.jpg"], "rejected": 2}
    rejected = api.get(f"/api/v1/projects/{pid}/images", params={"status": "rejected"}).json()
    assert sorted(i["id"] for i in rejected["items"]) == sorted(
        [ids["orig.jpg"], ids["recoded.webp"]]
    )
    history = api.get(f"/api/v1/projects/{pid}/images", params={"status": "unlabeled"}).json()
    assert ids["small.jpg"] in [i["id"] for i in history["items"]]
    # A later copy joins the existing group.
    later = upload(
        api, pid, [file_part("later.png", corpus.encode(picture.resize((400, 300)), "PNG"))]
    )
    later_id = later["imported"][0]["id"]  # type: ignore[index]
    assert api.get(f"/api/v1/images/{later_id}").json()["dup_group_id"] == group["id"]


def test_keep_refuses_an_image_of_another_group(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    pid = new_project(api)
    body = upload(api, pid, jpegs(1))
    image_id = body["imported"][0]["id"]  # type: ignore[index]
    resp = api.post(
        f"/api/v1/projects/{pid}/duplicate-groups/{image_id}/keep", json={"image_id": image_id}
    )
    assert resp.status_code == 404
    assert "not in duplicate group" in resp.json()["detail"]


def test_labels_from_zip_folders_create_the_tree_and_imported_annotations(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    api = api_as(admin)
    pid = new_project(api)
    archive = make_zip(
        [
            ("glass/wine/1.jpg", corpus.jpeg(seed=50)),
            ("glass/wine/2.jpg", corpus.jpeg(seed=51)),
            ("glass/beer/3.jpg", corpus.jpeg(seed=52)),
            ("loose.jpg", corpus.jpeg(seed=53)),
        ]
    )
    body = upload(api, pid, [file_part("set.zip", archive)], labels_from_folders="true")
    assert len(body["imported"]) == 4  # type: ignore[arg-type]
    paths = {c["path"]: c["id"] for c in api.get(f"/api/v1/projects/{pid}/categories").json()}
    assert set(paths) == {"glass", "glass/wine", "glass/beer"}
    wine = api.get(
        f"/api/v1/projects/{pid}/images", params={"category_id": paths["glass/wine"]}
    ).json()
    assert wine["total"] == 2
    glass = api.get(f"/api/v1/projects/{pid}/images", params={"category_id": paths["glass"]}).json()
    assert glass["total"] == 3  # the sub-tree
    unlabeled = api.get(f"/api/v1/projects/{pid}/images", params={"status": "unlabeled"}).json()
    assert [i["filename"] for i in unlabeled["items"]] == ["loose.jpg"]
    rows = db.scalars(select(Annotation)).all()
    assert len(rows) == 3
    assert {(r.source, r.user_id) for r in rows} == {("imported", admin.id)}
    # Importing the same zip again adds neither images nor annotations.
    again = upload(api, pid, [file_part("set.zip", archive)], labels_from_folders="true")
    assert again["imported"] == []
    assert len(again["duplicates"]) == 4
    assert db.scalar(select(func.count()).select_from(Annotation)) == 3


def test_labels_csv_labels_imported_images(api_as: ClientFor, admin: User, db: Session) -> None:
    api = api_as(admin)
    pid = new_project(api)
    upload(
        api,
        pid,
        [
            file_part(
                "set.zip",
                make_zip(
                    [
                        ("a/x.jpg", corpus.jpeg(seed=60)),
                        ("c/z.jpg", corpus.jpeg(seed=61)),
                        ("b/z.jpg", corpus.jpeg(seed=62)),
                    ]
                ),
            )
        ],
    )
    csv_text = (
        "filename,category_path\n"
        "a/x.jpg,dog/hound\n"
        "x.jpg,dog/hound\n"  # base name, unique: same image, same label
        "z.jpg,cat\n"  # two images are called z.jpg: ambiguous
        "b/z.jpg,cat\n"
        "missing.jpg,cat\n"
        "a/x.jpg\n"
        "a/x.jpg, / \n"
    )
    resp = api.post(
        f"/api/v1/projects/{pid}/labels-csv", files={"file": ("labels.csv", csv_text.encode())}
    )
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert (result["applied"], result["unchanged"]) == (2, 1), result
    reasons = {e["line"]: e["error"] for e in result["errors"]}
    assert "2 images are named 'z.jpg'" in reasons[4]
    assert "no image named 'missing.jpg'" in reasons[6]
    assert "expected 2 columns" in reasons[7]
    assert "empty" in reasons[8]
    paths = {c["path"] for c in api.get(f"/api/v1/projects/{pid}/categories").json()}
    assert paths == {"dog", "dog/hound", "cat"}
    bad = api.post(
        f"/api/v1/projects/{pid}/labels-csv", files={"file": ("l.csv", b"\xff\xfe\x00bad")}
    )
    assert bad.status_code == 422
    assert "UTF-8" in bad.json()["detail"]


def test_who_may_upload(api_as: ClientFor, admin: User, make_user: UserFactory) -> None:
    api = api_as(admin)
    pid = new_project(api)
    member = make_user(Role.labeler, "lena")
    outsider = make_user(Role.labeler, "otto")
    api.post(f"/api/v1/projects/{pid}/members", json={"username": "lena", "role": "labeler"})
    url = f"/api/v1/projects/{pid}/images"
    assert api_as(member).post(url, files=jpegs(1)).status_code == 403
    assert api_as(outsider).post(url, files=jpegs(1)).status_code == 404
    anonymous = TestClient(api.app)
    assert anonymous.post(url, files=jpegs(1)).status_code == 401
    # A labeler member sees the images but an outsider does not.
    image_id = upload(api, pid, jpegs(1))["imported"][0]["id"]  # type: ignore[index]
    assert api_as(member).get(f"/api/v1/images/{image_id}/thumbnail").status_code == 200
    for path in ("", "/file", "/thumbnail"):
        assert api_as(outsider).get(f"/api/v1/images/{image_id}{path}").status_code == 404
    api.patch(f"/api/v1/projects/{pid}", json={"archived": True})
    archived = api.post(url, files=jpegs(1, start=5))
    assert archived.status_code == 409
    assert "archived" in archived.json()["detail"]


def test_listing_filters_sorts_and_pages(api_as: ClientFor, admin: User, db: Session) -> None:
    api = api_as(admin)
    pid = new_project(api)
    names = ["c.jpg", "a.jpg", "b.jpg"]
    upload(api, pid, [file_part(n, corpus.jpeg(seed=70 + i)) for i, n in enumerate(names)])
    second = upload(api, pid, jpegs(1, start=80))
    url = f"/api/v1/projects/{pid}/images"
    assert [i["filename"] for i in api.get(url, params={"sort": "filename"}).json()["items"]] == [
        "a.jpg",
        "b.jpg",
        "c.jpg",
        "img80.jpg",
    ]
    page = api.get(url, params={"limit": 2, "offset": 1, "sort": "oldest"}).json()
    assert [i["filename"] for i in page["items"]] == ["a.jpg", "b.jpg"]
    assert page["total"] == 4
    batch = api.get(url, params={"batch_id": second["batch_id"]}).json()
    assert [i["filename"] for i in batch["items"]] == ["img80.jpg"]
    assert api.get(url, params={"status": "nonsense"}).status_code == 422
    assert api.get(url, params={"limit": 0}).status_code == 422
    other = new_project(api, "Other")
    api.post(f"/api/v1/projects/{other}/categories", json={"name": "theirs"})
    wrong = api.get(url, params={"category_id": 1})
    assert wrong.status_code == 404
    imports = api.get(f"/api/v1/projects/{pid}/imports").json()
    assert [(b["source"], b["status"], b["imported"]) for b in imports] == [
        ("upload", "succeeded", 1),
        ("upload", "succeeded", 3),
    ]
    assert db.scalar(select(func.count()).select_from(ImportBatch)) == 2


def test_tiff_gets_a_browser_rendition_and_others_show_their_original(
    api_as: ClientFor, admin: User
) -> None:
    api = api_as(admin)
    pid = new_project(api)
    tiff = corpus.encode(corpus.photo(90, 60, seed=8), "TIFF")
    jpg = corpus.jpeg(seed=8)
    upload(api, pid, [file_part("scan.tiff", tiff), file_part("photo.jpg", jpg)])
    items = {i["filename"]: i for i in api.get(f"/api/v1/projects/{pid}/images").json()["items"]}
    shown = api.get(items["scan.tiff"]["display_url"])
    assert shown.headers["content-type"] == "image/png"
    assert PILImage.open(io.BytesIO(shown.content)).size == (90, 60)
    assert api.get(items["scan.tiff"]["file_url"]).content == tiff
    assert api.get(items["photo.jpg"]["display_url"]).content == jpg
