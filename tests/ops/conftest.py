"""A source install and an empty target, on SQLite and on a real PostgreSQL.

PostgreSQL comes from CURATOR_TEST_POSTGRES_URL (an account allowed to create databases;
.ci/run sets one up), as in tests/db/conftest.py. Without one the PostgreSQL half skips,
except under CI=true, where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app.config import Settings
from app.migrate import upgrade
from tests.support.env import require
from tests.support.processes import REPO, curator_cmd, curator_env

DEFAULT_PG = "postgresql+psycopg://curator:curator@127.0.0.1:5432/postgres"


def postgres_admin_url() -> str:
    url = os.environ.get("CURATOR_TEST_POSTGRES_URL", DEFAULT_PG)
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    problem = None
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        problem = str(exc.orig).strip().splitlines()[0]
    finally:
        engine.dispose()
    shown = make_url(url).render_as_string(hide_password=True)
    require(
        problem is None,
        f"No PostgreSQL at {shown} ({problem}); set CURATOR_TEST_POSTGRES_URL or run .ci/run",
    )
    return url


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A new, empty database; dropped afterwards."""
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


Pair = tuple[Settings, Settings]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def new_install(
    backend: str, tmp_path: Path, migrated_sqlite: Path
) -> Iterator[Callable[[str, bool], Settings]]:
    """Make installs on ``backend``: name -> Settings, migrated or left empty."""
    admin_url = postgres_admin_url() if backend == "postgresql" else ""
    with ExitStack() as stack:

        def make(name: str, migrated: bool = True) -> Settings:
            data_dir = tmp_path / name
            data_dir.mkdir()
            url = None
            if backend == "postgresql":
                url = stack.enter_context(postgres_database(admin_url))
                if migrated:
                    upgrade(url)
            elif migrated:
                shutil.copy(migrated_sqlite, data_dir / "curator.db")
            return Settings(env="test", data_dir=data_dir, database_url=url)

        yield make


@pytest.fixture
def source(new_install: Callable[[str, bool], Settings]) -> Settings:
    return new_install("source", True)


@pytest.fixture
def target(new_install: Callable[[str, bool], Settings]) -> Settings:
    return new_install("target", False)


def env_for(settings: Settings) -> dict[str, str]:
    extra = {"CURATOR_DATABASE_URL": settings.database_url} if settings.database_url else {}
    return curator_env(settings.data_dir, **extra)


def cli(settings: Settings, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``curator ARGS`` as a real process against ``settings``' install."""
    return subprocess.run(
        curator_cmd(*args),
        env=env_for(settings),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
