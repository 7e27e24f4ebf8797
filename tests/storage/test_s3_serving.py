"""Images on an s3:// store, through the app: import, serving with Range, labeling, export,
access checks, presigned redirects and the CSP, and a store that is down."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.config import Settings
from app.images.models import Image, ImportBatch
from app.labeling.models import Annotation
from app.main import create_app
from app.web.middleware import CONTENT_SECURITY_POLICY
from tests.conftest import ClientFor, UserFactory
from tests.images import corpus
from tests.images.helpers import file_part, new_project, upload
from tests.labeling.helpers import join, label
from tests.support.s3 import S3Server

ROUTES = ("file", "display", "thumbnail")


@pytest.fixture
def settings(s3_settings: Settings) -> Settings:
    return s3_settings


@pytest.fixture
def redirecting_app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings.model_copy(update={"storage_redirect": True}))
    yield app
    app.state.engine.dispose()


def _login(app: FastAPI, user: User) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    token = c.post("/api/v1/auth/token", data={"username": user.username, "password": PASSWORD})
    c.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return c


PASSWORD = "correct horse battery"


def _one_image(api: TestClient, data: bytes, name: str = "cat.jpg") -> tuple[int, int]:
    pid = new_project(api)
    body = upload(api, pid, [file_part(name, data, "image/jpeg")])
    return pid, int(body["imported"][0]["id"])  # type: ignore[index]


def test_an_import_lands_in_the_bucket_and_is_served_with_ranges(
    api_as: ClientFor, admin: User, s3: S3Server, settings: Settings
) -> None:
    api = api_as(admin)
    original = corpus.jpeg(seed=5)
    _, iid = _one_image(api, original)
    keys = s3.stored_keys()
    assert len([k for k in keys if k.startswith("images/")]) == 1
    assert len([k for k in keys if k.startswith("thumbnails/")]) == 1
    assert not (settings.data_dir / "images").exists()

    whole = api.get(f"/api/v1/images/{iid}/file")
    assert whole.status_code == 200
    assert whole.content == original
    assert whole.headers["content-type"] == "image/jpeg"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-length"] == str(len(original))
    assert "immutable" in whole.headers["cache-control"]

    first = api.get(f"/api/v1/images/{iid}/file", headers={"Range": "bytes=0-99"})
    assert first.status_code == 206
    assert first.content == original[:100]
    assert first.headers["content-range"] == f"bytes 0-99/{len(original)}"

    tail = api.get(f"/api/v1/images/{iid}/file", headers={"Range": "bytes=-50"})
    assert tail.status_code == 206
    assert tail.content == original[-50:]
    n = len(original)
    assert tail.headers["content-range"] == f"bytes {n - 50}-{n - 1}/{n}"

    rest = api.get(f"/api/v1/images/{iid}/file", headers={"Range": "bytes=1000-"})
    assert rest.status_code == 206
    assert rest.content == original[1000:]

    huge = api.get(f"/api/v1/images/{iid}/file", headers={"Range": "bytes=5-" + "9" * 40})
    assert huge.status_code == 206  # an end past the file is the file's end
    assert huge.content == original[5:]
    beyond = api.get(f"/api/v1/images/{iid}/file", headers={"Range": f"bytes={n}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{n}"
    for ignored in ("bytes=0-1,5-9", "bytes=9-2", "lines=0-3", "bytes=x-y", "bytes=-", "x" * 5000):
        plain = api.get(f"/api/v1/images/{iid}/file", headers={"Range": ignored})
        assert plain.status_code == 200, ignored
        assert plain.content == original

    cached = api.get(f"/api/v1/images/{iid}/file", headers={"If-None-Match": whole.headers["etag"]})
    assert cached.status_code == 304

    thumb = api.get(f"/api/v1/images/{iid}/thumbnail")
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content[:2] == b"\xff\xd8"
    display = api.get(f"/api/v1/images/{iid}/display")
    assert display.content == original
    assert whole.headers["content-security-policy"] == CONTENT_SECURITY_POLICY  # unchanged


def test_a_tiff_is_shown_by_its_png_rendition_from_the_bucket(
    api_as: ClientFor, admin: User, s3: S3Server
) -> None:
    api = api_as(admin)
    pid = new_project(api)
    tiff = corpus.encode(corpus.photo(90, 60, seed=6), "TIFF")
    iid = upload(api, pid, [file_part("e.tiff", tiff)])["imported"][0]["id"]  # type: ignore[index]
    shown = api.get(f"/api/v1/images/{iid}/display")
    assert shown.headers["content-type"] == "image/png"
    assert shown.content.startswith(b"\x89PNG")
    assert any(k.startswith("display/") for k in s3.stored_keys())
    assert api.get(f"/api/v1/images/{iid}/file").content == tiff


def test_a_blob_missing_from_the_bucket_is_a_404_naming_the_image(
    api_as: ClientFor, admin: User, s3: S3Server
) -> None:
    api = api_as(admin)
    _, iid = _one_image(api, corpus.jpeg(seed=8))
    [key] = [k for k in s3.stored_keys() if k.startswith("images/")]
    s3.client().delete_object(Bucket=s3.bucket, Key=f"{s3.prefix}/{key}")
    gone = api.get(f"/api/v1/images/{iid}/file")
    assert gone.status_code == 404
    assert f"image {iid}" in gone.json()["detail"]


def test_labeling_and_exporting_originals_read_from_the_bucket(
    api_as: ClientFor, admin: User, labeler: User
) -> None:
    api = api_as(admin)
    pid = new_project(api)
    photos = {f"p{i}.jpg": corpus.jpeg(seed=40 + i) for i in range(3)}
    body = upload(api, pid, [file_part(n, d, "image/jpeg") for n, d in photos.items()])
    ids = {i["filename"]: int(i["id"]) for i in body["imported"]}  # type: ignore[attr-defined]
    cat = api.post(f"/api/v1/projects/{pid}/categories", json={"name": "cat", "parent_id": None})
    join(api, pid, labeler.username)
    lena = api_as(labeler)
    for iid in ids.values():
        assert lena.get(f"/api/v1/images/{iid}/thumbnail").status_code == 200
        label(lena, iid, int(cat.json()["id"]))
    history = api.get(f"/api/v1/images/{ids['p0.jpg']}/annotations").json()
    assert [a["category_id"] for a in history] == [cat.json()["id"]]

    export = api.get(f"/api/v1/projects/{pid}/export")
    assert export.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(export.content))
    exported = {n.rsplit("/", 1)[-1]: archive.read(n) for n in archive.namelist() if "/" in n}
    assert exported == photos


@pytest.mark.parametrize("redirect", [False, True])
def test_access_checks_hold_for_every_served_file(
    redirect: bool,
    app: FastAPI,
    redirecting_app: FastAPI,
    admin: User,
    make_user: UserFactory,
    s3: S3Server,
) -> None:
    served = redirecting_app if redirect else app
    owner = _login(served, admin)
    pid, iid = _one_image(owner, corpus.jpeg(seed=9))
    member, outsider = make_user(Role.labeler), make_user(Role.manager)
    join(owner, pid, member.username)
    expected = 302 if redirect else 200
    for route in ROUTES:
        url = f"/api/v1/images/{iid}/{route}"
        assert _login(served, member).get(url).status_code == expected, route
        stranger = _login(served, outsider).get(url)
        assert stranger.status_code == 404, route
        assert s3.endpoint not in stranger.text
        assert "location" not in stranger.headers
        anonymous = TestClient(served, follow_redirects=False).get(url)
        assert anonymous.status_code == 401, route
        assert "location" not in anonymous.headers
    gone = _login(served, admin).get("/api/v1/images/999999/file")
    assert gone.status_code == 404


def test_presigned_redirects_point_at_the_store_whose_origin_joins_img_src(
    redirecting_app: FastAPI, admin: User, s3: S3Server
) -> None:
    api = _login(redirecting_app, admin)
    original = corpus.jpeg(seed=11)
    _, iid = _one_image(api, original)
    for route, mime in (("file", "image/jpeg"), ("thumbnail", "image/jpeg")):
        moved = api.get(f"/api/v1/images/{iid}/{route}")
        assert moved.status_code == 302
        location = moved.headers["location"]
        assert location.startswith(f"{s3.endpoint}/{s3.bucket}/{s3.prefix}/")
        assert "X-Amz-Expires=300" in location
        fetched = httpx.get(location)
        assert fetched.status_code == 200
        assert fetched.headers["content-type"] == mime
        if route == "file":
            assert fetched.content == original
    csp = api.get("/login").headers["content-security-policy"]
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert directives["img-src"] == f"'self' data: {s3.endpoint}"
    # Nothing else opens up: every other directive is the default one.
    default = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert {k: v for k, v in directives.items() if k != "img-src"} == {
        k: v for k, v in default.items() if k != "img-src"
    }


def test_default_mode_keeps_the_csp_and_never_names_the_store(
    client: TestClient, s3: S3Server
) -> None:
    csp = client.get("/login").headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert s3.endpoint not in csp


def test_a_store_that_is_down_fails_the_upload_clearly_and_writes_no_rows(
    api_as: ClientFor, admin: User, s3: S3Server, db: Session
) -> None:
    api = api_as(admin)
    pid, iid = _one_image(api, corpus.jpeg(seed=12))
    s3.stop()
    refused = api.post(
        f"/api/v1/projects/{pid}/images",
        files=[file_part(f"n{i}.jpg", corpus.jpeg(seed=60 + i), "image/jpeg") for i in range(3)],
    )
    assert refused.status_code == 503
    detail = refused.json()["detail"]
    assert s3.url in detail
    assert "unavailable" in detail
    assert "Nothing of this request was saved" in detail
    assert refused.headers["retry-after"]
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Image)) == 1
    assert db.scalar(select(func.count()).select_from(ImportBatch)) == 1  # the first one
    assert db.scalar(select(func.count()).select_from(Annotation)) == 0

    served = api.get(f"/api/v1/images/{iid}/thumbnail")
    assert served.status_code == 503
    assert s3.url in served.json()["detail"]

    s3.start()
    again = upload(
        api, pid, [file_part(f"n{i}.jpg", corpus.jpeg(seed=60 + i), "image/jpeg") for i in range(3)]
    )
    assert len(again["imported"]) == 3  # type: ignore[arg-type]
    for item in again["imported"]:  # type: ignore[attr-defined]
        assert api.get(f"/api/v1/images/{item['id']}/file").status_code == 200
