"""A consistent copy of the live database, and what its rows say, taken while it is in use.

SQLite: the online backup API copies every page in one step under one read transaction,
so writers (in WAL mode) go on and the copy is one point in time. PostgreSQL: a
read-only repeatable-read transaction exports its snapshot, pg_dump dumps exactly that
snapshot, and the file list is read in the same transaction: the rows in the dump and the
files in the archive agree.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app.ops import pgtools
from app.ops.named_files import NamedFiles, alembic_revision, read_named, table_counts


class SnapshotError(RuntimeError):
    """The database could not be copied; the message says why."""


@dataclass
class Snapshot:
    dialect: str
    path: Path  # the copy: an SQLite file or a pg_dump custom-format file
    revision: str
    tables: dict[str, int]
    named: NamedFiles


def _describe(conn: Connection) -> tuple[str, dict[str, int], NamedFiles]:
    return alembic_revision(conn), table_counts(conn), read_named(conn)


def sqlite_file(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise SnapshotError(f"cannot back up the SQLite database {database!r}: not a file path")
    return Path(database).resolve()


def _sqlite(url: str, out: Path) -> Snapshot:
    source = sqlite_file(url)
    if not source.is_file():
        raise SnapshotError(f"there is no database at {source}")
    with (
        closing(sqlite3.connect(source, timeout=60)) as live,
        closing(sqlite3.connect(out)) as copy,
    ):
        live.backup(copy)  # pages=-1: the whole database in one step, one snapshot
        # One self-contained file: no -wal beside it to lose.
        copy.execute("PRAGMA journal_mode=DELETE")
    engine = create_engine(f"sqlite:///{out}")
    try:
        with engine.connect() as conn:
            revision, tables, named = _describe(conn)
    finally:
        engine.dispose()
    return Snapshot("sqlite", out, revision, tables, named)


def _postgresql(url: str, out: Path) -> Snapshot:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                conn.execute(text("SET TRANSACTION READ ONLY"))
                exported = str(conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())
                major = pgtools.server_major(conn)
                # The exporting transaction stays open until pg_dump has imported it.
                pgtools.dump(url, major, exported, out)
                revision, tables, named = _describe(conn)
    finally:
        engine.dispose()
    return Snapshot("postgresql", out, revision, tables, named)


@contextmanager
def take_snapshot(url: str, out: Path) -> Iterator[Snapshot]:
    """Copy the database at ``url`` into ``out``; the file is removed afterwards."""
    dialect = make_url(url).get_backend_name()
    out.unlink(missing_ok=True)  # a name with our pid: left by an earlier process
    try:
        if dialect == "sqlite":
            snap = _sqlite(url, out)
        elif dialect == "postgresql":
            snap = _postgresql(url, out)
        else:
            raise SnapshotError(f"cannot back up a {dialect} database (SQLite or PostgreSQL only)")
        yield snap
    except (SQLAlchemyError, sqlite3.Error) as exc:
        raise SnapshotError(f"cannot read the database: {exc}") from exc
    except pgtools.ToolError as exc:
        raise SnapshotError(str(exc)) from exc
    finally:
        out.unlink(missing_ok=True)
