"""A fresh, empty database per test on each backend: SQLite file and real PostgreSQL.

PostgreSQL comes from CURATOR_TEST_POSTGRES_URL (an account allowed to create databases;
.ci/run sets one up). Outside CI the PostgreSQL half skips when no server answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import postgres_admin_url, postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'curator.db'}"
        return
    with postgres_database(postgres_admin_url()) as url:
        yield url
