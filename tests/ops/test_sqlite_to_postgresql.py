"""Moving from SQLite to PostgreSQL: `curator backup` on a `make run` install, then
`curator restore` with CURATOR_DATABASE_URL naming PostgreSQL (README, "Moving from SQLite
to PostgreSQL").

Both commands run as real processes. "Everything came over" is checked as values, not as
stored text (SQLite keeps timestamps as text and booleans as 0/1): every row of every
table read through the models' types on both sides, every file byte for byte, and then
the moved install in use: logins, images, labels, runs, and new rows that get fresh ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

import app.models  # noqa: F401 - every table in Base.metadata
from app.config import Settings
from app.db import Base
from app.main import create_app
from tests.conftest import PASSWORD
from tests.ops.conftest import cli
from tests.ops.install import FLOWERS, populate, stored_files
from tests.support.env import require
from tests.support.postgres import postgres_admin_url, postgres_database


@pytest.fixture(autouse=True)
def _flowers() -> None:
    require((FLOWERS / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS}")


def typed_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every model table's rows as Python values, sorted: comparable across engines."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table.name: sorted(
                    (tuple(repr(v) for v in row) for row in conn.execute(table.select())),
                )
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def _login(api: TestClient, username: str) -> dict[str, str]:
    token = api.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_a_sqlite_backup_restores_into_postgresql_with_everything(tmp_path: Path) -> None:
    source = Settings(env="test", data_dir=tmp_path / "sqlite")
    source.data_dir.mkdir()
    assert cli(source, "migrate").returncode == 0
    install = populate(source, per_species=4)
    archive = tmp_path / "move.tar.gz"
    made = cli(source, "backup", str(archive))
    assert made.returncode == 0, made.stderr

    with postgres_database(postgres_admin_url()) as url:
        target = Settings(env="test", data_dir=tmp_path / "pg-data", database_url=url)
        done = cli(target, "restore", str(archive))
        assert done.returncode == 0, done.stderr
        assert "Restored" in done.stdout

        before, after = typed_rows(source.resolved_database_url), typed_rows(url)
        assert {t: len(r) for t, r in after.items()} == {t: len(r) for t, r in before.items()}
        for table, rows in before.items():
            assert after[table] == rows, f"table {table} differs after the move"
        assert len(after["images"]) == len(install.image_ids) > 0
        assert len(after["annotations"]) > 0
        assert len(after["training_runs"]) == 1
        assert stored_files(target.data_dir) == stored_files(source.data_dir)
        secret = (source.data_dir / "secret_key").read_bytes()
        assert (target.data_dir / "secret_key").read_bytes() == secret
        _use_the_moved_install(target, install.project_id, install.run_id, after)


def _top_id(rows: list[tuple[Any, ...]]) -> int:
    return max(int(r[0]) for r in rows)  # id is each of these tables' first column


def _use_the_moved_install(
    settings: Settings, pid: int, run_id: int, rows: dict[str, list[tuple[Any, ...]]]
) -> None:
    app = create_app(settings)
    try:
        with TestClient(app) as api:
            lena, mona = _login(api, "lena"), _login(api, "mona")
            items = api.get(
                f"/api/v1/projects/{pid}/images", params={"limit": 500}, headers=lena
            ).json()["items"]
            assert len(items) == len(rows["images"])
            statuses = [i["status"] for i in items]
            assert statuses.count("rejected") == 3
            for item in items:
                assert api.get(f"/api/v1/images/{item['id']}/file", headers=lena).status_code == 200
                thumb = api.get(f"/api/v1/images/{item['id']}/thumbnail", headers=lena)
                assert thumb.status_code == 200
            run = api.get(f"/api/v1/training-runs/{run_id}", headers=mona)
            assert run.status_code == 200, run.text
            assert run.json()["status"] == "succeeded"
            cats = api.get(f"/api/v1/projects/{pid}/categories", headers=lena).json()
            assert {c["path"] for c in cats} >= {"Asteraceae/daisy", "buttercup"}

            # New rows after the move: the sequences were moved past the copied ids.
            made = api.post(
                f"/api/v1/projects/{pid}/categories", json={"name": "tulip"}, headers=mona
            )
            assert made.status_code == 201, made.text
            assert made.json()["id"] > _top_id(rows["categories"])
            other = api.post("/api/v1/projects", json={"name": "Moved"}, headers=mona)
            assert other.status_code == 201, other.text
            assert other.json()["id"] > _top_id(rows["projects"])
            unlabeled = next(i for i in items if i["status"] == "unlabeled")
            label = api.post(
                f"/api/v1/images/{unlabeled['id']}/annotations",
                json={"category_id": made.json()["id"]},
                headers=lena,
            )
            assert label.status_code == 201, label.text
            assert label.json()["id"] > _top_id(rows["annotations"])
    finally:
        app.state.engine.dispose()
    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as conn:
        users = conn.execute(text("SELECT username FROM users ORDER BY username")).scalars()
        assert list(users) == ["lena", "mona", "root"]
    engine.dispose()


def test_a_postgresql_target_in_use_is_refused_and_left_alone(tmp_path: Path) -> None:
    source = Settings(env="test", data_dir=tmp_path / "sqlite")
    source.data_dir.mkdir()
    assert cli(source, "migrate").returncode == 0
    populate(source, per_species=1)
    archive = tmp_path / "move.tar"
    assert cli(source, "backup", str(archive)).returncode == 0
    with postgres_database(postgres_admin_url()) as url:
        target = Settings(env="test", data_dir=tmp_path / "pg-data", database_url=url)
        target.data_dir.mkdir()
        assert cli(target, "migrate").returncode == 0
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (username, password_hash, role, is_active, "
                    "security_stamp, created_at) VALUES ('olga', 'x', 'manager', true, 's', "
                    "now())"
                )
            )
        refused = cli(target, "restore", str(archive))
        assert refused.returncode == 1
        assert "not empty" in refused.stderr
        assert "users" in refused.stderr
        with engine.connect() as conn:
            assert list(conn.execute(text("SELECT username FROM users")).scalars()) == ["olga"]
        engine.dispose()
