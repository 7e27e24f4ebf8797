"""Read a backup's database snapshot, before it is installed anywhere.

A restore checks the files against the rows first, and only then touches the target:
an SQLite snapshot is opened read-only where it was unpacked; a PostgreSQL dump is read
through pg_restore's text output, which needs no server.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError

from app.ops import pgtools
from app.ops.archive_format import ArchiveError
from app.ops.named_files import NamedFiles, alembic_revision, read_named

_TABLES = ("alembic_version", "images", "embeddings", "training_runs")


def _sqlite(path: Path) -> tuple[str, NamedFiles]:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))
    try:
        with engine.connect() as conn:
            return alembic_revision(conn), read_named(conn)
    except (SQLAlchemyError, sqlite3.Error) as exc:
        raise ArchiveError(
            f"the database snapshot is not a readable Curator database: {exc}"
        ) from None
    finally:
        engine.dispose()


def _postgresql(path: Path, major: int) -> tuple[str, NamedFiles]:
    named = NamedFiles()
    revisions: list[str] = []
    try:
        for table, row in pgtools.copy_rows(path, _TABLES, major):
            if table == "alembic_version":
                revisions.append(str(row["version_num"]))
            elif table == "images":
                named.images.add((str(row["sha256"]), str(row["thumbnail_mime"])))
            elif table == "embeddings" and row["shard"] and row["error"] is None:
                named.shards.add((str(row["backbone"]), str(row["shard"])))
            elif table == "training_runs":
                named.run_ids.add(int(str(row["id"])))
    except (KeyError, ValueError) as exc:
        raise ArchiveError(f"the database dump lacks an expected column or value: {exc}") from None
    except pgtools.ToolError as exc:
        raise ArchiveError(str(exc)) from None
    if len(revisions) != 1:
        raise ArchiveError(
            f"the database dump has {len(revisions)} alembic revisions; expected one"
        )
    return revisions[0], named


def read_snapshot(dialect: str, path: Path, pg_major: int | None) -> tuple[str, NamedFiles]:
    """The snapshot's alembic revision and the files its rows name."""
    if dialect == "sqlite":
        return _sqlite(path)
    if pg_major is None:
        raise ArchiveError("a PostgreSQL dump needs a PostgreSQL target")
    return _postgresql(path, pg_major)
