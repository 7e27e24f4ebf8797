"""`curator backup` then `curator restore` into a fresh install: everything comes back.

Both commands run as real processes, on SQLite and on a real PostgreSQL. "Everything"
is checked the way an operator would: every row of every table, every stored file
byte for byte, the secret key, and through the restored app: logins, images that open
and match their sha256, labels, rejections with reasons, guidelines and members.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.images.models import Image
from app.main import create_app
from tests.conftest import PASSWORD
from tests.ops.conftest import cli
from tests.ops.install import FLOWERS, populate, stored_files, table_rows
from tests.support.env import require


@pytest.fixture(autouse=True)
def _flowers() -> None:
    require((FLOWERS / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS}")


@pytest.mark.parametrize("name", ["backup.tar", "backup.tar.gz"])
def test_backup_and_restore_bring_back_every_row_and_file(
    source: Settings, target: Settings, tmp_path: Path, name: str
) -> None:
    install = populate(source)
    archive = tmp_path / name
    made = cli(source, "backup", str(archive))
    assert made.returncode == 0, made.stderr
    assert "Backed up" in made.stdout
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(f".{name}")] == []
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert names[0] == "header.json"
    assert names[-1] == "manifest.json"
    assert manifest["alembic_revision"]
    assert manifest["tables"]["images"] == len(install.image_ids)
    assert f"models/{install.run_id}/model.pt" in manifest["files"]

    done = cli(target, "restore", str(archive))
    assert done.returncode == 0, done.stderr
    assert "Restored" in done.stdout

    source_url, target_url = source.resolved_database_url, target.resolved_database_url
    assert table_rows(target_url) == table_rows(source_url)
    assert stored_files(target.data_dir) == stored_files(source.data_dir)
    assert len(stored_files(target.data_dir)) >= 2 * len(install.image_ids) + 3
    secret = (source.data_dir / "secret_key").read_bytes()
    assert (target.data_dir / "secret_key").read_bytes() == secret
    assert not list(target.data_dir.glob(".restore-*"))
    _check_through_the_app(target, install.project_id, install.tiff_id)


def _check_through_the_app(settings: Settings, pid: int, tiff_id: int) -> None:
    app = create_app(settings)
    try:
        with TestClient(app) as api:
            token = api.post("/api/v1/auth/token", data={"username": "lena", "password": PASSWORD})
            assert token.status_code == 200, token.text
            api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            items = api.get(f"/api/v1/projects/{pid}/images", params={"limit": 500}).json()
            assert items["total"] == len(items["items"]) == 25
            statuses = sorted(i["status"] for i in items["items"])
            assert statuses.count("rejected") == 3
            assert statuses.count("labeled") == 18
            for item in items["items"]:
                got = api.get(f"/api/v1/images/{item['id']}/file")
                assert got.status_code == 200
                history = api.get(f"/api/v1/images/{item['id']}/annotations").json()
                if item["status"] == "rejected":
                    assert history[-1]["reason"].startswith("blurry ")
                thumb = api.get(f"/api/v1/images/{item['id']}/thumbnail")
                assert thumb.status_code == 200
            assert api.get(f"/api/v1/images/{tiff_id}/display").status_code == 200
            cats = api.get(f"/api/v1/projects/{pid}/categories").json()
            assert {c["path"] for c in cats} >= {"Asteraceae/daisy", "buttercup"}
            assert any("**daisy**" in c["description"] for c in cats)
            members = api.get(f"/api/v1/projects/{pid}/members").json()
            assert {m["username"] for m in members} >= {"lena", "mona"}
    finally:
        app.state.engine.dispose()


def test_every_restored_original_matches_its_sha256(
    source: Settings, target: Settings, tmp_path: Path
) -> None:
    install = populate(source, per_species=3)
    archive = tmp_path / "b.tar"
    assert cli(source, "backup", str(archive)).returncode == 0
    assert cli(target, "restore", str(archive)).returncode == 0
    app = create_app(target)
    try:
        with TestClient(app) as api:
            token = api.post("/api/v1/auth/token", data={"username": "mona", "password": PASSWORD})
            api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            with app.state.sessionmaker() as db:
                sha = dict(db.execute(select(Image.id, Image.sha256)).all())
            assert sorted(sha) == install.image_ids
            for image_id in install.image_ids:
                body = api.get(f"/api/v1/images/{image_id}/file").content
                assert hashlib.sha256(body).hexdigest() == sha[image_id]
    finally:
        app.state.engine.dispose()
