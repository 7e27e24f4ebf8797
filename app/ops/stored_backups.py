"""Backups kept in the store, under ``backups/<name>``: for installs with no disk of their own.

With the files in a bucket, a web or worker container may have no persistent disk at
all, so "a local path the operator names" has nowhere safe to be. `curator backup
--to-store NAME` writes the archive exactly as `curator backup FILE` does, into a work
folder inside the data dir, then uploads it whole (an object appears complete or not at
all) and removes the local copy; `curator restore --from-store NAME` downloads it there
first. A killed run leaves only its work folder, which the next run removes.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from app.blobs import StoreUnavailable, open_store
from app.config import Settings
from app.ops.backup import BackupError, BackupResult, backup, pid_alive

PREFIX = "backups/"
_WORK = ".stored-backup-"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=-]{0,150}\.(tar|tar\.gz|tgz)")


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or ".." in name:
        raise BackupError(
            f"{name[:100]!r} is not a backup name: letters, digits, '_', '.', '-', '+', '=' "
            "ending in .tar, .tar.gz or .tgz, no folders"
        )
    return name


def key_of(name: str) -> str:
    return PREFIX + check_name(name)


@contextmanager
def work_folder(data_dir: Path) -> Iterator[Path]:
    """A folder of this process's own inside the data dir, removed afterwards."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for stale in data_dir.glob(f"{_WORK}*"):
        pid = stale.name.removeprefix(_WORK)
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    folder = data_dir / f"{_WORK}{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)  # our pid's name: left by an earlier process
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def backup_to_store(
    settings: Settings,
    name: str,
    on_plan: Callable[[int], None] = lambda total: None,
    advance: Callable[[int], None] = lambda n: None,
) -> tuple[BackupResult, str]:
    """Back up into the store under ``backups/<name>``; returns the result and the key."""
    key = key_of(name)
    store = open_store(settings)
    with work_folder(settings.data_dir.resolve()) as folder:
        result = backup(settings, folder / name, on_plan, advance)
        try:
            store.put_file(key, result.path)
        except StoreUnavailable as exc:
            raise BackupError(f"{exc}. The backup was not stored.") from None
    return result, key


@contextmanager
def fetched(settings: Settings, name: str) -> Iterator[Path]:
    """The stored backup ``name`` as a local file, for as long as the block runs."""
    key = key_of(name)
    store = open_store(settings)
    with work_folder(settings.data_dir.resolve()) as folder:
        path = folder / name
        try:
            store.download(key, path)
        except FileNotFoundError:
            raise BackupError(f"there is no backup {key} in {store.url}") from None
        except StoreUnavailable as exc:
            raise BackupError(f"{exc}. Nothing was changed.") from None
        yield path
