"""The interface every store serves, and the rule for keys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

# Lower-case letters, digits and a few marks, in slash-separated parts; no part is "." or
# "..", none starts with a dot. Keys come from hashes and ids, never from a user's name,
# and this keeps it that way: a key can never leave the data dir or the bucket's prefix.
_PART = r"[A-Za-z0-9_][A-Za-z0-9_.+=-]*"
_KEY = re.compile(rf"{_PART}(/{_PART})*")


class StoreUnavailable(RuntimeError):
    """The store could not be reached or refused the request; the message says which."""


@dataclass(frozen=True, slots=True)
class BlobInfo:
    key: str
    size: int
    mtime: float  # seconds since the epoch, as the store reports it


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key) or ".." in key.split("/"):
        raise ValueError(f"not a blob key: {key!r}")
    return key


class BlobStore(Protocol):
    url: str  # e.g. file:///srv/curator/data or s3://bucket/prefix

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write atomically: a reader sees the old blob or the whole new one, never half."""

    def put_file(self, key: str, path: Path) -> None:
        """Upload a local file under key (atomic, as put_bytes)."""

    def get_bytes(self, key: str) -> bytes:
        """The whole blob; FileNotFoundError if there is none."""

    def open(self, key: str) -> BinaryIO:
        """A readable stream; FileNotFoundError if there is none."""

    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes start..end inclusive (HTTP Range semantics); FileNotFoundError if absent."""

    def download(self, key: str, path: Path) -> None:
        """Copy the blob to a local path (written atomically); FileNotFoundError if absent."""

    def info(self, key: str) -> BlobInfo | None:
        """Size and mtime, or None when there is no such blob."""

    def touch(self, key: str) -> None:
        """Make the blob young again (gc spares recently named content); no-op if absent."""

    def delete(self, key: str) -> None:
        """Remove the blob; no error if it is already gone."""

    def list(self, prefix: str) -> Iterator[BlobInfo]:
        """Every blob whose key starts with prefix (a folder: ``models/12/``), any order."""

    def local_path(self, key: str) -> Path | None:
        """The blob's own path on this machine (file://), or None (s3://)."""

    def presigned_url(self, key: str, *, mime: str, seconds: int) -> str | None:
        """A short-lived URL a browser can fetch directly, or None if the store has none."""

    def public_origin(self) -> str | None:
        """The origin presigned URLs point at (for the CSP's img-src), or None."""
