"""A source install and an empty target, on SQLite and on a real PostgreSQL.

PostgreSQL comes from CURATOR_TEST_POSTGRES_URL (an account allowed to create databases;
.ci/run sets one up), as in tests/db/conftest.py. Without one the PostgreSQL half skips,
except under CI=true, where it fails.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from app.config import Settings
from app.migrate import upgrade
from tests.support.postgres import postgres_admin_url, postgres_database
from tests.support.processes import REPO, curator_cmd, curator_env

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
