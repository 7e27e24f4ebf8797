"""A fresh, empty database per test on each backend: SQLite file and real PostgreSQL.

PostgreSQL comes from CURATOR_TEST_POSTGRES_URL (an account allowed to create databases;
.ci/run sets one up). Outside CI the PostgreSQL half skips when no server answers.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tests.support.env import require

DEFAULT_PG = "postgresql+psycopg://curator:curator@127.0.0.1:5432/postgres"


def _postgres_admin_url() -> str:
    return os.environ.get("CURATOR_TEST_POSTGRES_URL", DEFAULT_PG)


def _postgres_reachable(url: str) -> str | None:
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except OperationalError as exc:
        return str(exc.orig).strip().splitlines()[0]
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'curator.db'}"
        return
    admin_url = _postgres_admin_url()
    problem = _postgres_reachable(admin_url)
    require(
        problem is None,
        f"No PostgreSQL at {make_url(admin_url).render_as_string(hide_password=True)} "
        f"({problem}); set CURATOR_TEST_POSTGRES_URL or run .ci/run",
    )
    name = f"curator_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
