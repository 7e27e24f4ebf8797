"""The install a restore writes into: is it empty, and putting the database in place."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app.blobs import BlobStore, StoreUnavailable
from app.blobs.local import FileStore
from app.ops import pgtools
from app.ops.named_files import CONTENT_DIRS
from app.ops.snapshot import sqlite_file

# Also Curator's, and about the old data only: cleared by --force.
TRANSIENT = ("staging", "broker")


class TargetError(RuntimeError):
    """The target cannot take the restore; the message says why and what to do."""


def dialect_of(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise TargetError(f"cannot restore into a {name} database (SQLite or PostgreSQL only)")
    return name


def _has_file(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


def _has_blob(store: BlobStore, folder: str) -> bool:
    if isinstance(store, FileStore):
        return _has_file(store.root / folder)
    return next(iter(store.list(folder + "/")), None) is not None


def content_in(data_dir: Path, url: str, store: BlobStore | None = None) -> list[str]:
    """What makes the target non-empty, in words; [] when it is empty."""
    found = []
    store = store or FileStore(data_dir)
    try:
        folders = [d for d in CONTENT_DIRS if _has_blob(store, d)]
    except StoreUnavailable as exc:
        raise TargetError(f"{exc}. Nothing was changed.") from None
    where = data_dir if isinstance(store, FileStore) else store.url
    if folders:
        found.append(f"{where} holds files in {', '.join(folders)}")
    if dialect_of(url) == "sqlite" and not sqlite_file(url).exists():
        return found
    engine = create_engine(url)
    tables = []
    try:
        with engine.connect() as conn:
            preparer = conn.dialect.identifier_preparer
            for table in sorted(inspect(conn).get_table_names()):
                if table == "alembic_version":
                    continue  # a migrated, empty database is empty
                query = text(f"SELECT 1 FROM {preparer.quote(table)} LIMIT 1")  # noqa: S608
                if conn.execute(query).first() is not None:
                    tables.append(table)
    except SQLAlchemyError as exc:
        raise TargetError(f"cannot open the target database: {exc}") from exc
    finally:
        engine.dispose()
    if tables:
        found.append(f"the database has rows in {', '.join(tables)}")
    return found


def pg_major(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return pgtools.server_major(conn)
    except SQLAlchemyError as exc:
        raise TargetError(f"cannot open the target database: {exc}") from exc
    finally:
        engine.dispose()


def install_sqlite(url: str, snapshot: Path) -> None:
    """Put the snapshot where the URL points, replacing whatever was there."""
    target = sqlite_file(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A WAL or journal of the old database would be replayed into the new one.
    for suffix in ("-wal", "-shm", "-journal"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    try:
        os.replace(snapshot, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        tmp = target.with_name(f".{target.name}.restoring")
        shutil.copyfile(snapshot, tmp)
        os.replace(tmp, target)


def install_postgresql(url: str, dump: Path, major: int) -> None:
    """Drop every table of the target, then load the dump in one transaction."""
    clear_postgresql(url)
    try:
        pgtools.restore(url, major, dump)
    except pgtools.ToolError as exc:
        raise TargetError(
            f"the target database was cleared, but the dump did not load: {exc}. Fix the "
            "cause and restore again with --force"
        ) from exc


def clear_postgresql(url: str) -> None:
    """Drop every table of the target (one transaction: all or none)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            tables = MetaData()
            tables.reflect(conn)
            tables.drop_all(conn)
    except SQLAlchemyError as exc:
        raise TargetError(f"cannot clear the target database (nothing changed): {exc}") from exc
    finally:
        engine.dispose()


def install_files(staged: Path, data_dir: Path, force: bool) -> None:
    """Move the staged folders into the data dir (same file system: renames)."""
    # Without --force these hold no file (checked), at most empty folders.
    for name in (*CONTENT_DIRS, *(TRANSIENT if force else ())):
        shutil.rmtree(data_dir / name, ignore_errors=True)
    for name in CONTENT_DIRS:
        if (staged / name).is_dir():
            os.replace(staged / name, data_dir / name)


def upload_files(staged: Path, store: BlobStore, force: bool) -> None:
    """Put the staged files into a store that is not the data dir (a bucket).

    The files go in before the database: content-addressed files without rows are
    harmless (`curator gc` finds them), rows without their files are not.
    """
    try:
        if force:
            for name in CONTENT_DIRS:
                for blob in list(store.list(name + "/")):
                    store.delete(blob.key)
        if not staged.is_dir():
            return
        for path in sorted(p for p in staged.rglob("*") if p.is_file()):
            store.put_file(path.relative_to(staged).as_posix(), path)
    except StoreUnavailable as exc:
        raise TargetError(
            f"{exc}. The database was not changed; restore again once the store is back "
            "(with --force if some files went in)."
        ) from None


def install_secret(data_dir: Path, key: bytes) -> None:
    path = data_dir / "secret_key"
    tmp = data_dir / ".secret_key.restoring"
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    os.replace(tmp, path)
