"""A full disk answers 507 "The data directory is full", and nothing else breaks.

The data dir lives on a real, small tmpfs that the test fills to the last byte, so the
failures come from the kernel (ENOSPC) and from SQLite ("database or disk is full"),
never from a mock. Mounting needs root (CI runs as root); elsewhere the test skips.
"""

from __future__ import annotations

import errno
import hashlib
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.auth import service as auth_service
from app.auth.models import Role
from app.config import Settings
from app.errors import is_disk_full
from app.images.models import Image, ImportBatch
from app.labeling.models import Annotation
from app.main import create_app
from tests.conftest import PASSWORD, csrf_from
from tests.images import corpus
from tests.images.helpers import file_part, new_project, upload
from tests.support.env import require

FULL = "The data directory is full"


@dataclass
class Disk:
    mount: Path
    data: Path

    def fill(self) -> None:
        """Take every free byte; SQLite's WAL is emptied first so its next write needs room."""
        with sqlite3.connect(self.data / "curator.db") as conn:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "a reader kept the WAL from being emptied"
        (self.mount / "filler").mkdir(exist_ok=True)
        for chunk in (2**20, 4096, 1):
            while True:
                try:
                    with open(self.mount / "filler" / uuid.uuid4().hex, "wb", buffering=0) as out:
                        while True:
                            out.write(b"\0" * chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        assert shutil.disk_usage(self.mount).free < 4096

    def free(self) -> None:
        shutil.rmtree(self.mount / "filler")


@pytest.fixture
def disk(tmp_path: Path, migrated_sqlite: Path) -> Iterator[Disk]:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    require(
        mounted.returncode == 0,
        f"cannot mount a small tmpfs to fill (needs root): {mounted.stderr.strip()}",
    )
    try:
        data = mount / "data"
        data.mkdir()
        shutil.copy(migrated_sqlite, data / "curator.db")
        yield Disk(mount, data)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def full_app(disk: Disk) -> Iterator[FastAPI]:
    settings = Settings(env="test", data_dir=disk.data, secret_key="disk-full-" + "k" * 40)
    app = create_app(settings)
    with app.state.sessionmaker() as session:
        for name, role in (("owner", Role.manager), ("lena", Role.labeler)):
            auth_service.create_user(session, name, PASSWORD, role)
        session.commit()
    yield app
    app.state.engine.dispose()


def count(app: FastAPI, model: type[object]) -> int:
    with app.state.sessionmaker() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def token_client(app: FastAPI, username: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    resp = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    client.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
    return client


def stray_temporaries(data: Path) -> list[Path]:
    return [*data.rglob(".tmp-*"), *data.rglob("*.tmp")]


def test_a_full_disk_answers_507_saves_nothing_and_recovers_by_itself(
    full_app: FastAPI, disk: Disk
) -> None:
    api = token_client(full_app, "owner")
    project = new_project(api, "Tight")
    body = upload(api, project, [file_part("first.jpg", corpus.jpeg(seed=71), "image/jpeg")])
    image_id = int(body["imported"][0]["id"])  # type: ignore[index]
    category = api.post(
        f"/api/v1/projects/{project}/categories", json={"name": "kept", "parent_id": None}
    ).json()["id"]
    browser = TestClient(full_app, follow_redirects=False)
    new_photo = corpus.jpeg(seed=72)
    before = {m: count(full_app, m) for m in (Image, ImportBatch, Annotation)}

    disk.fill()

    # An upload: the original cannot be written.
    resp = api.post(
        f"/api/v1/projects/{project}/images",
        files=[file_part("second.jpg", new_photo, "image/jpeg")],
    )
    assert resp.status_code == 507, resp.text
    assert resp.json()["detail"].startswith(FULL)
    # A label: SQLite cannot grow its log.
    resp = api.post(f"/api/v1/images/{image_id}/annotations", json={"category_id": category})
    assert resp.status_code == 507, resp.text
    assert resp.json()["detail"].startswith(FULL)
    # A token: the row cannot be written.
    resp = browser.post("/api/v1/auth/token", data={"username": "owner", "password": PASSWORD})
    assert resp.status_code == 507
    # The login page still opens; logging in says why it cannot, in a page.
    page = browser.get("/login")
    assert page.status_code == 200
    assert 'name="password"' in page.text
    for password in (PASSWORD, "not the password"):
        resp = browser.post(
            "/login",
            data={"username": "lena", "password": password, "csrf_token": csrf_from(browser)},
        )
        assert resp.status_code == 507
        assert resp.headers["content-type"].startswith("text/html")
        assert FULL in resp.text
        assert "The disk is full" in resp.text
        assert "Traceback" not in resp.text
    # A login whose session could not be saved is not a login.
    assert browser.get("/projects").headers.get("location", "").startswith("/login")

    # Nothing half-written: no rows, no partial files, the database intact.
    assert {m: count(full_app, m) for m in before} == before
    assert stray_temporaries(disk.data) == []
    sha = hashlib.sha256(new_photo).hexdigest()
    assert not any(p.name == sha for p in (disk.data / "images").rglob("*"))
    with sqlite3.connect(disk.data / "curator.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    disk.free()

    # Space is back: the same requests work, with no restart and no other action.
    resp = api.post(
        f"/api/v1/projects/{project}/images",
        files=[file_part("second.jpg", new_photo, "image/jpeg")],
    )
    assert resp.status_code == 200, resp.text
    assert len(resp.json()["imported"]) == 1
    resp = api.post(f"/api/v1/images/{image_id}/annotations", json={"category_id": category})
    assert resp.status_code == 201, resp.text
    resp = browser.post(
        "/login",
        data={"username": "lena", "password": PASSWORD, "csrf_token": csrf_from(browser)},
    )
    assert resp.status_code == 303
    assert browser.get("/projects").status_code == 200
    assert count(full_app, Image) == before[Image] + 1
    assert count(full_app, Annotation) == before[Annotation] + 1


def test_a_server_started_on_a_full_disk_still_shows_the_login_page(
    full_app: FastAPI, disk: Disk
) -> None:
    full_app.state.engine.dispose()  # a fresh process: no open connection, no WAL file
    disk.fill()
    app = create_app(full_app.state.settings)
    try:
        with TestClient(app, follow_redirects=False) as client:
            page = client.get("/login")
            assert page.status_code == 200
            resp = client.post(
                "/login",
                data={"username": "lena", "password": PASSWORD, "csrf_token": csrf_from(client)},
            )
            assert resp.status_code == 507
            assert FULL in resp.text
    finally:
        app.state.engine.dispose()


def test_only_a_full_disk_is_a_507() -> None:
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(ValueError("database or disk is full"))  # words alone are not
    with pytest.raises(RuntimeError) as wrapped:
        _store_on_a_full_disk()
    assert is_disk_full(wrapped.value)  # also when another error wraps it


def _store_on_a_full_disk() -> None:
    try:
        raise OSError(errno.ENOSPC, "No space left on device")
    except OSError as exc:
        raise RuntimeError("could not store") from exc


def test_other_os_errors_stay_500s(app: FastAPI) -> None:
    def broken() -> None:
        raise PermissionError(errno.EACCES, "Permission denied", "/secret/path")

    app.router.add_api_route("/api/v1/broken", broken)
    resp = TestClient(app, raise_server_exceptions=False).get("/api/v1/broken")
    assert resp.status_code == 500
    assert "/secret/path" not in resp.text
