"""SQLite writes that commit by themselves, as they run.

SQLite has one write lock for the whole database. In a transaction it is held from the
first write until the commit, and in between the thread must win Python's GIL back from
the other requests' threads after every statement: milliseconds each under load, while
every other writer waits (and SQLite's busy handler polls, in sleeps of up to 100 ms).
A statement in autocommit mode takes the lock and gives it back inside one call into
SQLite, with the GIL released throughout. The labeling hot path is two such statements:
the lease claim of ``queue/next`` and the annotation INSERT (whose trigger sets the
image's label and drops the lease in the same statement).

Only for a statement that is a unit of work on its own: it is committed even if the
request fails afterwards.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session


@contextmanager
def on_its_own(session: Session) -> Iterator[None]:
    """On SQLite, commit the enclosed statement by itself; elsewhere, do nothing special."""
    raw = session.connection().connection.dbapi_connection
    if not isinstance(raw, sqlite3.Connection) or raw.in_transaction:
        yield  # PostgreSQL locks rows, not the database; or a write is already pending
        return
    level = raw.isolation_level
    raw.isolation_level = None  # the sqlite3 module's autocommit mode
    try:
        yield
    finally:
        raw.isolation_level = level
