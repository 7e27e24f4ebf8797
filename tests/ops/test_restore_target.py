"""What a restore writes into: only an empty target without --force, not a PostgreSQL
backup into SQLite, and an older backup brought up to date by the migrations. (SQLite into
PostgreSQL works: tests/ops/test_sqlite_to_postgresql.py.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.config import Settings
from app.migrate import upgrade
from app.ops.archive_format import ArchiveError
from app.ops.backup import backup
from app.ops.restore import restore
from tests.ops.conftest import cli
from tests.ops.install import FLOWERS, populate, stored_files, table_rows
from tests.support.env import require
from tests.support.postgres import postgres_admin_url, postgres_database

# The last revision before this migrations: an install one release old.
OLDER_REVISION = "8d4e3f0a5b64"


@pytest.fixture(autouse=True)
def _flowers() -> None:
    require((FLOWERS / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS}")


def test_a_target_in_use_is_refused_without_force_and_replaced_with_it(
    new_install: Callable[[str, bool], Settings], tmp_path: Path
) -> None:
    source, busy = new_install("source", True), new_install("busy", True)
    populate(source, per_species=3)
    populate(busy, per_species=2)
    archive = tmp_path / "b.tar"
    assert cli(source, "backup", str(archive)).returncode == 0
    rows_before, files_before = table_rows(busy.resolved_database_url), stored_files(busy.data_dir)

    refused = cli(busy, "restore", str(archive))
    assert refused.returncode == 1
    assert "the target is not empty" in refused.stderr
    assert "--force" in refused.stderr
    assert table_rows(busy.resolved_database_url) == rows_before
    assert stored_files(busy.data_dir) == files_before

    forced = cli(busy, "restore", "--force", str(archive))
    assert forced.returncode == 0, forced.stderr
    assert table_rows(busy.resolved_database_url) == table_rows(source.resolved_database_url)
    # The busy install's own photos are gone, not merged in.
    assert stored_files(busy.data_dir) == stored_files(source.data_dir)


def test_a_migrated_but_empty_target_is_empty(
    new_install: Callable[[str, bool], Settings], tmp_path: Path
) -> None:
    source, fresh = new_install("source", True), new_install("fresh", True)
    populate(source, per_species=2)
    archive = backup(source, tmp_path / "b.tar").path
    restore(fresh, archive)
    assert table_rows(fresh.resolved_database_url) == table_rows(source.resolved_database_url)


def test_an_older_backup_is_upgraded_by_the_migrations(
    new_install: Callable[[str, bool], Settings], tmp_path: Path
) -> None:
    old, target = new_install("old", False), new_install("target", False)
    url = old.resolved_database_url
    upgrade(url, OLDER_REVISION)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, password_hash, role, is_active, "
                "security_stamp, created_at) VALUES (7, 'olga', 'x', 'manager', true, 's', "
                "'2026-11-24 10:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO projects (id, name, name_key, description, created_by_id, "
                "created_at) VALUES (3, 'Old', 'old', '', 7, '2026-11-24 10:00:00')"
            )
        )
    engine.dispose()
    archive = backup(old, tmp_path / "old.tar").path
    restore(target, archive)
    engine = create_engine(target.resolved_database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() != (
            OLDER_REVISION
        )
        assert conn.execute(text("SELECT username FROM users")).scalars().all() == ["olga"]
        # The access migration made the creator of each project its manager.
        members = conn.execute(text("SELECT user_id, project_id, role FROM memberships")).all()
    engine.dispose()
    assert [tuple(m) for m in members] == [(7, 3, "manager")]


def test_a_postgresql_backup_is_refused_by_a_sqlite_target(tmp_path: Path) -> None:
    with postgres_database(postgres_admin_url()) as url:
        upgrade(url)
        source = Settings(env="test", data_dir=tmp_path / "pg-data", database_url=url)
        archive = backup(source, tmp_path / "p.tar").path
    target = Settings(env="test", data_dir=tmp_path / "sqlite")
    with pytest.raises(ArchiveError, match="holds a PostgreSQL database and the target"):
        restore(target, archive)
    assert list(target.data_dir.iterdir()) == []
