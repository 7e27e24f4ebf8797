"""`curator backup`: the database snapshot, then every file its rows name, in one tar.

The snapshot comes first and the files after: files are content-addressed and never
changed once written, and a row is committed only after its file, so every file the
snapshot names exists. Everything is written to a temporary file beside the target and
renamed at the end: a crash never leaves half an archive under the final name.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from app.blobs import BlobInfo, BlobStore, StoreUnavailable, open_store
from app.blobs.local import FileStore
from app.config import Settings
from app.ops import archive_format as fmt
from app.ops.named_files import present, wanted
from app.ops.snapshot import take_snapshot

Advance = Callable[[int], None]  # bytes written since the last call
_CHUNK = 1 << 20


class BackupError(RuntimeError):
    """The backup could not be written; the message says why."""


@dataclass
class BackupResult:
    path: Path
    files: int
    bytes: int
    tables: dict[str, int]


class _Hashing(io.RawIOBase):
    """Reads through to ``source``, hashing and counting what tarfile takes."""

    def __init__(self, source: IO[bytes], advance: Advance) -> None:
        self.source, self.advance, self.digest = source, advance, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size if size >= 0 else _CHUNK)
        self.digest.update(data)
        self.advance(len(data))
        return data


def _add_file(tar: tarfile.TarFile, name: str, path: Path, advance: Advance) -> fmt.Entry:
    with path.open("rb") as source:
        stat = os.fstat(source.fileno())
        return _add_stream(tar, name, source, stat.st_size, stat.st_mtime, advance)


def _add_blob(
    tar: tarfile.TarFile, name: str, store: BlobStore, blob: BlobInfo, advance: Advance
) -> fmt.Entry:
    with store.open(blob.key) as source:
        return _add_stream(tar, name, source, blob.size, blob.mtime, advance)


def _add_stream(
    tar: tarfile.TarFile, name: str, source: IO[bytes], size: int, mtime: float, advance: Advance
) -> fmt.Entry:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(mtime), 0o644
    reader = _Hashing(source, advance)
    tar.addfile(info, reader)  # streamed: tarfile copies in chunks of size bytes
    return fmt.Entry(size, reader.digest.hexdigest())


def _add_json(tar: tarfile.TarFile, name: str, value: object) -> None:
    data = json.dumps(value, indent=1, sort_keys=True).encode()
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
    tar.addfile(info, io.BytesIO(data))


def temp_prefix(out: Path) -> str:
    return f".{out.name}.tmp-"


def clean_stale_temps(out: Path) -> list[Path]:
    """Remove what a killed backup to ``out`` left behind (its process is gone)."""
    removed = []
    for item in out.parent.glob(f"{temp_prefix(out)}*"):
        pid = item.name[len(temp_prefix(out)) :].split(".", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            item.unlink(missing_ok=True)
            removed.append(item)
    return removed


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def backup(
    settings: Settings,
    out: Path,
    on_plan: Callable[[int], None] = lambda total: None,
    advance: Advance = lambda n: None,
) -> BackupResult:
    """Write the archive to ``out``; ``on_plan`` hears the total bytes once they are known."""
    out = out.resolve()
    if not out.parent.is_dir():
        raise BackupError(f"the folder {out.parent} does not exist")
    if out.is_dir():
        raise BackupError(f"{out} is a folder; give the archive's file name")
    clean_stale_temps(out)
    stem = out.parent / f"{temp_prefix(out)}{os.getpid()}"
    archive = stem.with_name(stem.name + ".archive")
    archive.unlink(missing_ok=True)  # our pid's name: left by an earlier process
    data_dir = settings.data_dir.resolve()
    store = open_store(settings)
    try:
        with take_snapshot(
            settings.resolved_database_url, stem.with_name(stem.name + ".db")
        ) as snap:
            files = list(present(store, wanted(snap.named)))
            missing = [rel for rel, blob, required in files if required and blob is None]
            if missing:
                shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
                where = data_dir if isinstance(store, FileStore) else store.url
                raise BackupError(
                    f"{len(missing)} file(s) named by the database are missing from "
                    f"{where}: {shown}. The store is damaged; a backup of it would "
                    "not restore."
                )
            secret = data_dir / "secret_key"
            header = fmt.Header(
                dialect=snap.dialect,
                alembic_revision=snap.revision,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                file_count=len(files),
                tables=snap.tables,
            )
            on_plan(snap.path.stat().st_size + sum(b.size for _, b, _ in files if b))
            with archive.open("xb") as raw:
                mode = fmt.tar_mode(out, writing=True)
                extra = {"compresslevel": 6} if mode == "w:gz" else {}
                with tarfile.open(
                    fileobj=raw,
                    mode=mode,
                    format=tarfile.PAX_FORMAT,
                    **extra,  # type: ignore[call-overload]
                ) as tar:
                    _add_json(tar, fmt.HEADER, header.to_json())
                    database = _add_file(tar, fmt.DATABASE[snap.dialect], snap.path, advance)
                    key = (
                        _add_file(tar, fmt.SECRET_KEY, secret, advance)
                        if secret.is_file()
                        else None
                    )
                    entries: dict[str, fmt.Entry] = {}
                    for rel, blob, required in files:
                        if blob is None:
                            continue  # required ones are refused above
                        try:
                            entries[rel] = _add_blob(tar, fmt.FILES + rel, store, blob, advance)
                        except FileNotFoundError:
                            if required:
                                raise BackupError(
                                    f"{rel} disappeared from the data dir during the backup"
                                ) from None
                            # A model folder being replaced by its run's export: skip it.
                    manifest = fmt.Manifest(header, database, key, entries)
                    _add_json(tar, fmt.MANIFEST, manifest.to_json())
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(archive, out)
            _fsync_dir(out.parent)
    except StoreUnavailable as exc:
        raise BackupError(f"{exc}. No archive was written.") from None
    except OSError as exc:
        raise BackupError(f"cannot write {out}: {exc.strerror or exc}") from exc
    finally:
        archive.unlink(missing_ok=True)
    total = sum(e.size for e in entries.values())
    return BackupResult(out, len(entries), total, snap.tables)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
