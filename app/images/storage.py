"""The content-addressed store: originals and renditions by sha256, in the BlobStore.

A key comes from a hash alone, never from a name a user chose, so nothing an upload says
can place a file outside the store. The keys are the data dir's relative paths from
before object storage (``images/ab/cd/<sha>``), so a file:// install reads its old files.
"""

from __future__ import annotations

import re
from pathlib import Path

from app.blobs import BlobStore
from app.blobs.local import FileStore

_SHA256 = re.compile(r"[0-9a-f]{64}")
_THUMB_EXT = {"image/jpeg": ".jpg", "image/webp": ".webp"}
THUMBNAIL_SIZE = 256  # a thumbnail's longest side, in pixels
# Formats browsers do not show in an <img>: the store keeps a PNG rendition of these too.
NEEDS_DISPLAY = frozenset({"tiff"})


class ImageStore:
    def __init__(self, store: BlobStore | Path) -> None:
        # A Path is a data dir (the tests and benchmarks from before object storage).
        self.store: BlobStore = FileStore(store) if isinstance(store, Path) else store

    @staticmethod
    def original_key(sha256: str) -> str:
        return f"images/{_check(sha256)[:2]}/{sha256[2:4]}/{sha256}"

    @staticmethod
    def thumbnail_key(sha256: str, mime: str) -> str:
        return f"thumbnails/{_check(sha256)[:2]}/{sha256}{_THUMB_EXT[mime]}"

    @staticmethod
    def display_key(sha256: str) -> str:
        return f"display/{_check(sha256)[:2]}/{sha256}.png"

    def original_path(self, sha256: str) -> Path:
        return self._local(self.original_key(sha256))

    def thumbnail_path(self, sha256: str, mime: str) -> Path:
        return self._local(self.thumbnail_key(sha256, mime))

    def display_path(self, sha256: str) -> Path:
        return self._local(self.display_key(sha256))

    def _local(self, key: str) -> Path:
        path = self.store.local_path(key)
        if path is None:
            raise RuntimeError(
                f"{key} lives in {self.store.url}, which has no local paths: "
                "read it with the store (open, get_bytes) or through app.blobs.cache"
            )
        return path

    def put(
        self,
        sha256: str,
        data: bytes,
        thumbnail: bytes,
        thumbnail_mime: str,
        display: bytes | None = None,
    ) -> None:
        """Store an original and its renditions; content already stored is not written again.

        The original goes last: an original in the store means its renditions are there,
        which is what an import that finds it already stored relies on.
        """
        self._write_once(self.thumbnail_key(sha256, thumbnail_mime), thumbnail)
        if display is not None:
            self._write_once(self.display_key(sha256), display)
        self._write_once(self.original_key(sha256), data)

    def _write_once(self, key: str, data: bytes) -> None:
        if self.store.info(key) is not None:
            # Reused content is made young again, so that `curator gc` leaves it to the
            # import that is about to name it even if no row named it until now.
            self.store.touch(key)
            return
        self.store.put_bytes(key, data)


def _check(sha256: str) -> str:
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return sha256
