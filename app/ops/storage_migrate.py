"""`curator storage migrate --to s3://bucket/prefix`: a file:// install's files into a bucket.

Every file under the content folders is copied to the same key in the bucket (the keys
are the data dir's relative paths, so nothing in the database changes). Each object is
verified by reading it back from the store and hashing it: an ETag is an MD5 only for
single-part uploads without KMS, and metadata is only what the uploader claimed, so
neither proves what the bucket now serves; the bytes do. The same check makes a run
resumable: an object already there with the file's size and sha256 is kept, anything
else (missing, half a migration ago, or corrupted) is copied again. A killed migration is
simply run again. Nothing is deleted from the data dir: the operator switches
CURATOR_STORAGE_URL when the migration says every file is in place.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from app.blobs import BlobStore, StoreUnavailable, check_key
from app.blobs.local import FileStore
from app.ops.named_files import CONTENT_DIRS

# What the ops code knows as content (backup's folders) and the insight pictures.
MIGRATED_DIRS = (*CONTENT_DIRS, "maps", "saliency")
_CHUNK = 1 << 20
# S3's rule for new buckets: 3-63 lower-case letters, digits, dots and hyphens.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")


class MigrateError(RuntimeError):
    """The migration cannot start or finish; the message says why."""


@dataclass
class Plan:
    files: list[tuple[str, Path, int]]  # key, local file, size
    skipped: list[str]  # files whose names no key can hold (a killed export's leftovers)

    @property
    def bytes(self) -> int:
        return sum(size for _, _, size in self.files)


@dataclass
class MigrateResult:
    copied: int = 0
    kept: int = 0  # already in the bucket with the same bytes
    bytes: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def check_target(url: str) -> str:
    """The ``--to`` URL in its plain form (no trailing slash), or MigrateError saying why not."""
    shown = url[:200] + ("..." if len(url) > 200 else "")
    if not url.startswith("s3://"):
        raise MigrateError(f"--to must be s3://bucket or s3://bucket/prefix, not {shown!r}")
    if any(ch.isspace() or not ch.isprintable() for ch in url) or len(url) > 1024:
        raise MigrateError(f"--to holds spaces, control characters or is too long: {shown!r}")
    parts = urlsplit(url)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise MigrateError(f"--to takes no query or fragment: {shown!r}")
    if not _BUCKET.fullmatch(parts.netloc) or ".." in parts.netloc:
        raise MigrateError(
            f"{parts.netloc[:100]!r} is not a bucket name (3-63 lower-case letters, digits, "
            "dots and hyphens; credentials go in the AWS_* variables, never in the URL)"
        )
    prefix = parts.path.strip("/")
    if prefix:
        try:
            check_key(prefix)
        except ValueError:
            raise MigrateError(
                f"the prefix {prefix[:100]!r} is not a plain folder path (letters, digits, "
                "'_', '.', '-', '+', '='; no '..' or parts starting with a dot)"
            ) from None
    if "//" in parts.path:
        raise MigrateError(f"the prefix has an empty folder: {shown!r}")
    return f"s3://{parts.netloc}/{prefix}".rstrip("/")


def plan(source: FileStore) -> Plan:
    """Every file under the content folders, sorted by key (a rerun walks the same order)."""
    files: list[tuple[str, Path, int]] = []
    skipped: list[str] = []
    for folder in MIGRATED_DIRS:
        if not (source.root / folder).is_dir():
            continue
        for info in source.list(folder + "/"):
            try:
                check_key(info.key)
            except ValueError:
                skipped.append(info.key)
                continue
            files.append((info.key, source.path(info.key), info.size))
    files.sort()
    return Plan(files, sorted(skipped))


def _sha256_of(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    with stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stored_sha256(store: BlobStore, key: str, size: int) -> str | None:
    """The sha256 of what the store serves under key, or None if it has another size."""
    info = store.info(key)
    if info is None or info.size != size:
        return None
    try:
        return _sha256_of(store.open(key))
    except FileNotFoundError:
        return None  # deleted between the two requests


def migrate_one(store: BlobStore, key: str, path: Path, size: int) -> str:
    """'kept', 'copied', or raise MigrateError when the store keeps serving other bytes."""
    with path.open("rb") as local:
        want = _sha256_of(local)
    if _stored_sha256(store, key, size) == want:
        return "kept"
    for _attempt in range(2):
        store.put_file(key, path)
        if _stored_sha256(store, key, size) == want:
            return "copied"
    raise MigrateError(f"{key}: the store serves other bytes than were written, twice")


def check_store(store: BlobStore) -> None:
    """One cheap request first: a store that is down is reported before any work."""
    next(iter(store.list("images/")), None)


def migrate(
    source: FileStore,
    store: BlobStore,
    *,
    jobs: int = 4,
    on_plan: Callable[[Plan], None] = lambda p: None,
    advance: Callable[[int, str], None] = lambda n, outcome: None,
) -> MigrateResult:
    check_store(store)
    work = plan(source)
    on_plan(work)
    result = MigrateResult(skipped=work.skipped)

    def one(item: tuple[str, Path, int]) -> tuple[str, int, str]:
        key, path, size = item
        try:
            return key, size, migrate_one(store, key, path, size)
        except FileNotFoundError:
            return key, 0, "gone"  # removed from the data dir meanwhile (gc): nothing to copy
        except MigrateError as exc:
            return key, size, f"failed: {exc}"

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        outcomes: Iterator[tuple[str, int, str]] = pool.map(one, work.files)
        try:
            for _key, size, outcome in outcomes:
                if outcome == "copied":
                    result.copied += 1
                    result.bytes += size
                elif outcome == "kept":
                    result.kept += 1
                elif outcome.startswith("failed"):
                    result.failed.append(outcome.removeprefix("failed: "))
                advance(size, outcome)
        except StoreUnavailable:
            # Let the queued copies go: each would wait out its own timeout first.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return result
