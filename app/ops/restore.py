"""`curator restore`: unpack, check everything, and only then replace the target.

The archive is unpacked into a staging folder inside the data dir and checked: every
member against manifest.json, every image against its row's sha256, every file a row
names present. Only then is the database put in place and the staged folders renamed
into the data dir (on s3://, the files are uploaded into the bucket first); last, the
migrations bring an older backup up to date. A refused archive leaves the target as it
was, and nothing is ever written outside the data dir, the store and the database.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError

from app.blobs import open_store
from app.blobs.local import FileStore
from app.config import Settings
from app.migrate import alembic_config, upgrade
from app.ops import target
from app.ops.archive_format import ArchiveError, Header
from app.ops.backup import pid_alive
from app.ops.convert import sqlite_into_postgresql
from app.ops.dump_rows import read_snapshot
from app.ops.extract import Extracted, extract
from app.ops.named_files import NamedFiles

STAGING_PREFIX = ".restore-"
_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass
class RestoreResult:
    files: int
    tables: dict[str, int]
    backup_revision: str
    created_at: str
    secret_key: bool


def clean_stale_staging(data_dir: Path) -> None:
    """Remove what a killed restore left in the data dir (its process is gone)."""
    for folder in data_dir.glob(f"{STAGING_PREFIX}*"):
        pid = folder.name.removeprefix(STAGING_PREFIX)
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _shown(names: set[str]) -> str:
    listed = sorted(names)
    return ", ".join(listed[:5]) + (" ..." if len(listed) > 5 else "")


def verify(found: Extracted) -> None:
    """Every member as manifest.json says, every file the rows name present."""
    manifest, header = found.manifest, found.header
    if manifest is None:  # extract() refuses an archive without one
        raise ArchiveError("manifest.json is missing")
    if manifest.header.to_json() != header.to_json():
        raise ArchiveError("manifest.json and header.json disagree: the archive was altered")
    if found.revision != header.alembic_revision:
        raise ArchiveError(
            f"the database snapshot is at revision {found.revision}, the header says "
            f"{header.alembic_revision}: the archive was altered"
        )
    if found.database_entry != manifest.database:
        raise ArchiveError(
            "the database snapshot does not match its sha256 in manifest.json: the "
            "archive is corrupted or was altered"
        )
    if found.secret_entry != manifest.secret_key:
        raise ArchiveError("the secret key does not match manifest.json: the archive was altered")
    listed, unpacked = set(manifest.files), set(found.files)
    if listed - unpacked:
        raise ArchiveError(
            f"{len(listed - unpacked)} file(s) listed in manifest.json are not in the "
            f"archive: {_shown(listed - unpacked)}"
        )
    if unpacked - listed:
        raise ArchiveError(f"file(s) not listed in manifest.json: {_shown(unpacked - listed)}")
    altered = {name for name in listed if manifest.files[name] != found.files[name]}
    if altered:
        raise ArchiveError(
            f"{len(altered)} file(s) do not match their sha256 in manifest.json (corrupted or "
            f"altered): {_shown(altered)}"
        )
    missing = set(found.want.required) - unpacked
    if missing:
        raise ArchiveError(
            f"{len(missing)} file(s) named by the backup's rows are not in it: {_shown(missing)}"
        )


def _header_check(dialect: str, url: str) -> Callable[[Header], None]:
    script = ScriptDirectory.from_config(alembic_config(url))

    def check(header: Header) -> None:
        # SQLite to PostgreSQL is how a small install moves to a server (app.ops.convert);
        # the other way round would need a PostgreSQL server to read the dump.
        if header.dialect != dialect and (header.dialect, dialect) != ("sqlite", "postgresql"):
            raise ArchiveError(
                f"this backup holds a {_NAMES[header.dialect]} database and the target "
                f"(CURATOR_DATABASE_URL) is {_NAMES[dialect]}. Restoring a PostgreSQL "
                "backup into SQLite is not supported: restore into a PostgreSQL target."
            )
        try:
            script.get_revision(header.alembic_revision)
        except CommandError:
            raise ArchiveError(
                f"the backup's database is at revision {header.alembic_revision}, which this "
                "Curator does not know: it comes from a newer Curator. Upgrade, then restore."
            ) from None

    return check


def restore(
    settings: Settings,
    archive: Path,
    force: bool = False,
    on_plan: Callable[[int], None] = lambda total: None,
    advance: Callable[[int], None] = lambda n: None,
) -> RestoreResult:
    archive = archive.resolve()
    if not archive.is_file():
        raise ArchiveError(f"{archive} is not a file")
    url = settings.resolved_database_url
    dialect = target.dialect_of(url)
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    clean_stale_staging(data_dir)
    store = open_store(settings)
    # The data dir's own file:// store takes the staged folders by renaming them.
    local = isinstance(store, FileStore) and store.root == data_dir
    if not force:
        found = target.content_in(data_dir, url, store)
        if found:
            raise target.TargetError(
                "the target is not empty: " + "; and ".join(found) + ". Restore into an "
                "empty data dir and database, or pass --force to replace everything in them. "
                "Nothing was changed."
            )
    major = target.pg_major(url) if dialect == "postgresql" else None

    def read_rows(header: Header, path: Path) -> tuple[str, NamedFiles]:
        return read_snapshot(header.dialect, path, major)

    on_plan(archive.stat().st_size)
    staging = data_dir / f"{STAGING_PREFIX}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)  # our pid's name: left by an earlier process
    staging.mkdir()
    try:
        unpacked = extract(archive, staging, _header_check(dialect, url), read_rows, advance)
        verify(unpacked)
        if not local:
            target.upload_files(staging / "files", store, force)
        if major is None:
            target.install_sqlite(url, unpacked.database)
        elif unpacked.header.dialect == "sqlite":
            target.clear_postgresql(url)
            sqlite_into_postgresql(unpacked.database, url)
        else:
            target.install_postgresql(url, unpacked.database, major)
        if local:
            target.install_files(staging / "files", data_dir, force)
        if unpacked.secret_key is not None:
            target.install_secret(data_dir, unpacked.secret_key)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    upgrade(url)
    header = unpacked.header
    return RestoreResult(
        files=len(unpacked.files),
        tables=header.tables,
        backup_revision=header.alembic_revision,
        created_at=header.created_at,
        secret_key=unpacked.secret_key is not None,
    )
