"""A real PostgreSQL for the tests that need one: the server, and a fresh database.

The server comes from CURATOR_TEST_POSTGRES_URL (an account allowed to create databases;
.ci/run sets one up). Without one the caller skips, except under CI=true, where it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tests.support.env import require

DEFAULT_PG = "postgresql+psycopg://curator:curator@127.0.0.1:5432/postgres"


def _unreachable(url: str) -> str | None:
    """Why the server does not answer, or None when it does."""
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except OperationalError as exc:
        return str(exc.orig).strip().splitlines()[0]
    finally:
        engine.dispose()


def postgres_admin_url() -> str:
    """The server's URL; skips (fails under CI) when it does not answer."""
    url = os.environ.get("CURATOR_TEST_POSTGRES_URL", DEFAULT_PG)
    problem = _unreachable(url)
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
