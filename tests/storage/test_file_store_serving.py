"""file:// is unchanged by object storage: the same paths, Range by FileResponse, and a
redirect setting that has no store to redirect to changes nothing (not even the CSP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.auth.models import User
from app.config import Settings
from app.images.storage import ImageStore
from app.main import create_app
from app.web.middleware import CONTENT_SECURITY_POLICY
from tests.conftest import PASSWORD
from tests.images import corpus
from tests.images.helpers import file_part, new_project, upload


@pytest.fixture
def redirecting(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings.model_copy(update={"storage_redirect": True}))
    yield app
    app.state.engine.dispose()


def test_file_store_keeps_its_paths_and_serves_ranges_even_with_redirects_on(
    redirecting: FastAPI, admin: User, settings: Settings
) -> None:
    api = TestClient(redirecting, follow_redirects=False)
    token = api.post("/api/v1/auth/token", data={"username": admin.username, "password": PASSWORD})
    api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    pid = new_project(api)
    original = corpus.jpeg(seed=2)
    item = upload(api, pid, [file_part("a.jpg", original, "image/jpeg")])["imported"][0]  # type: ignore[index]
    store = ImageStore(settings.data_dir)
    sha = api.get(f"/api/v1/images/{item['id']}").json()["sha256"]
    assert (
        store.original_path(sha)
        == settings.data_dir.resolve() / "images" / sha[:2] / sha[2:4] / sha
    )
    assert store.original_path(sha).read_bytes() == original
    assert store.thumbnail_path(sha, "image/jpeg").is_file()

    whole = api.get(f"/api/v1/images/{item['id']}/file")
    assert whole.status_code == 200
    assert whole.content == original
    assert whole.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    part = api.get(f"/api/v1/images/{item['id']}/file", headers={"Range": "bytes=-10"})
    assert part.status_code == 206
    assert part.content == original[-10:]
    beyond = api.get(f"/api/v1/images/{item['id']}/file", headers={"Range": "bytes=99999999-"})
    assert beyond.status_code == 416

    store.original_path(sha).unlink()
    gone = api.get(f"/api/v1/images/{item['id']}/file")
    assert gone.status_code == 404
    assert f"image {item['id']}" in gone.json()["detail"]


def test_s3_paths_are_refused_with_a_clear_error(s3_settings: Settings) -> None:
    from app.blobs import open_store

    store = ImageStore(open_store(s3_settings))
    with pytest.raises(RuntimeError, match="no local paths"):
        store.original_path("a" * 64)
    assert store.original_key("a" * 64) == f"images/aa/aa/{'a' * 64}"
    with pytest.raises(ValueError, match="sha256"):
        store.original_key("../../etc/passwd")
