"""Orphan files: files in the data dir's stores that no row names.

A process killed in the middle of an import, or a transaction that failed after its
files were written (a full disk), leaves complete files with no row. They are found by
walking the stores and asking the database which names its rows hold; only files older
than ``min_age`` are candidates, because another process may be importing right now and
commits its rows after writing its files. Before deleting, the rows are read again and
each file's age checked again, so a row committed during the walk keeps its file.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from app.blobs import BlobStore, StoreUnavailable
from app.images.storage import ImageStore
from app.ops.gc_service import Referenced, referenced

# Folders of the data dir that hold row-named files, and what each file there is.
STORES = {
    "images": "original",
    "thumbnails": "thumbnail",
    "display": "display",
    "embeddings": "embedding",
    "models": "model",
    "staging": "staging",
}


@dataclass(frozen=True)
class Orphan:
    kind: str
    path: Path  # in the data dir; for a blob in a bucket, its key as a relative path
    size: int
    key: str | None = None  # set for a blob in a store that is not the data dir


@dataclass
class Result:
    orphans: list[Orphan] = field(default_factory=list)
    deleted: list[Orphan] = field(default_factory=list)
    young: int = 0  # unnamed files left alone because they are recent
    errors: list[str] = field(default_factory=list)

    def totals(self, files: list[Orphan]) -> dict[str, tuple[int, int]]:
        """kind -> (files, bytes)."""
        counts: Counter[str] = Counter()
        sizes: Counter[str] = Counter()
        for orphan in files:
            counts[orphan.kind] += 1
            sizes[orphan.kind] += orphan.size
        return {kind: (counts[kind], sizes[kind]) for kind in STORES.values() if counts[kind]}


def is_named(relative: Path, refs: Referenced, store: ImageStore, path: Path) -> bool:
    """Whether a row names the file at ``path`` (``relative`` to the data dir)."""
    top, parts = relative.parts[0], relative.parts[1:]
    name = relative.name
    try:
        if top == "images":
            return name in refs.images and store.original_path(name) == path
        if top == "thumbnails":
            sha256 = name.partition(".")[0]
            return any(store.thumbnail_path(sha256, m) == path for m in refs.images.get(sha256, ()))
        if top == "display":
            sha256 = name.removesuffix(".png")
            return sha256 in refs.images and store.display_path(sha256) == path
    except (ValueError, KeyError):  # not a content hash, or a MIME type the store lacks
        return False
    if top == "embeddings":
        return len(parts) == 2 and (parts[0], parts[1]) in refs.shards
    # models/<run id>/... and staging/<batch id>/...: the folder's number names them all.
    number = parts[0] if len(parts) >= 2 else ""
    if not (number.isdigit() and str(int(number)) == number):
        return False  # e.g. a partial export a killed worker left (models/.7.partial)
    if top == "models":
        return int(number) in refs.run_ids
    return top == "staging" and int(number) in refs.staged_batches


def _files(root: Path) -> Iterator[Path]:
    # Symbolic links to folders are not followed: nothing outside the store is visited.
    for folder, _dirs, names in os.walk(root):
        for name in names:
            yield Path(folder) / name


def find_orphans(
    data_dir: Path,
    refs: Referenced,
    *,
    min_age: float,
    now: float | None = None,
    only: tuple[str, ...] = tuple(STORES),
) -> Result:
    base = data_dir.resolve()
    store = ImageStore(base)
    cutoff = (time.time() if now is None else now) - min_age
    result = Result()
    for folder, kind in STORES.items():
        if folder not in only:
            continue
        for path in _files(base / folder):
            if is_named(path.relative_to(base), refs, store, path):
                continue
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue  # gone meanwhile: a finished job removed its staging
            if info.st_mtime >= cutoff:
                result.young += 1
            else:
                result.orphans.append(Orphan(kind, path, info.st_size))
    return result


# Keys are matched by the same rules as paths, under a root that is only a name.
_KEYS = Path("/store")


def _blob_named(key: str, refs: Referenced) -> bool:
    return is_named(Path(key), refs, ImageStore(_KEYS), _KEYS / key)


def find_in_store(store: BlobStore, refs: Referenced, cutoff: float, result: Result) -> None:
    """Orphans among a bucket's blobs (staged uploads stay on disk: walked by the caller)."""
    for folder, kind in STORES.items():
        if folder == "staging":
            continue
        for blob in store.list(folder + "/"):
            if _blob_named(blob.key, refs):
                continue
            if blob.mtime >= cutoff:
                result.young += 1
            else:
                result.orphans.append(Orphan(kind, Path(blob.key), blob.size, blob.key))


def collect(
    sessions: sessionmaker[Session],
    data_dir: Path,
    *,
    min_age: float,
    delete: bool,
    now: float | None = None,
    store: BlobStore | None = None,
) -> Result:
    """Find orphan files and, with ``delete``, remove them (and the folders they empty).

    ``store``: where the blobs live when it is not the data dir itself (a bucket).
    """
    cutoff = (time.time() if now is None else now) - min_age
    with sessions() as session:
        refs = referenced(session)
    if store is None:
        result = find_orphans(data_dir, refs, min_age=min_age, now=now)
    else:
        result = Result()
        staged = find_orphans(data_dir, refs, min_age=min_age, now=now, only=("staging",))
        result.orphans, result.young = staged.orphans, staged.young
        find_in_store(store, refs, cutoff, result)
    if not delete or not result.orphans:
        return result
    with sessions() as session:
        refs = referenced(session)  # rows committed during the walk keep their files
    base = data_dir.resolve()
    images = ImageStore(base)
    for orphan in result.orphans:
        if orphan.key is not None and store is not None:
            if _delete_blob(store, orphan, refs, cutoff, result):
                result.deleted.append(orphan)
            continue
        try:
            if is_named(orphan.path.relative_to(base), refs, images, orphan.path):
                continue
            if orphan.path.lstat().st_mtime >= cutoff:
                continue  # content written again since the walk: an import reuses it
            orphan.path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            result.errors.append(f"{orphan.path}: {exc.strerror or exc}")
            continue
        result.deleted.append(orphan)
    _remove_empty_folders(base, result.deleted)
    return result


def _delete_blob(
    store: BlobStore, orphan: Orphan, refs: Referenced, cutoff: float, result: Result
) -> bool:
    key = orphan.key or ""
    try:
        if _blob_named(key, refs):
            return False
        info = store.info(key)
        if info is None or info.mtime >= cutoff:
            return False  # gone, or written again since the walk: an import reuses it
        store.delete(key)
    except StoreUnavailable as exc:
        result.errors.append(f"{key}: {exc}")
        return False
    return True


def _remove_empty_folders(base: Path, deleted: list[Orphan]) -> None:
    """Remove folders emptied under models/ and staging/ (a run's or an upload's own).

    Content folders (images/ab/cd) stay: another process may have made one a moment ago
    and be about to write into it.
    """
    tops = {
        base / d.path.relative_to(base).parts[0] / d.path.relative_to(base).parts[1]
        for d in deleted
        if d.key is None
        and d.kind in ("model", "staging")
        and len(d.path.relative_to(base).parts) > 2
    }
    for top in tops:
        for folder, _dirs, _names in os.walk(top, topdown=False):
            with suppress(OSError):  # not empty: it still holds young or named files
                os.rmdir(folder)
