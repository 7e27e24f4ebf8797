"""The content-addressed store: originals and thumbnails under the data dir, by sha256.

A file's path comes from its hash alone, never from a name a user chose, so nothing an
upload says can place a file outside the store. Writes go to a temporary file and are
renamed into place: a reader never sees half a file, and two processes writing the same
content at once both succeed.
"""

from __future__ import annotations

import os
import re
import tempfile
from contextlib import suppress
from pathlib import Path

_SHA256 = re.compile(r"[0-9a-f]{64}")
_THUMB_EXT = {"image/jpeg": ".jpg", "image/webp": ".webp"}
THUMBNAIL_SIZE = 256  # a thumbnail's longest side, in pixels
# Formats browsers do not show in an <img>: the store keeps a PNG rendition of these too.
NEEDS_DISPLAY = frozenset({"tiff"})


class ImageStore:
    def __init__(self, data_dir: Path) -> None:
        self.originals = data_dir.resolve() / "images"
        self.thumbnails = data_dir.resolve() / "thumbnails"
        self.displays = data_dir.resolve() / "display"
        self._folders: set[Path] = set()  # made already: one mkdir per folder, not per file

    def original_path(self, sha256: str) -> Path:
        return self.originals / _check(sha256)[:2] / sha256[2:4] / sha256

    def thumbnail_path(self, sha256: str, mime: str) -> Path:
        return self.thumbnails / _check(sha256)[:2] / f"{sha256}{_THUMB_EXT[mime]}"

    def display_path(self, sha256: str) -> Path:
        return self.displays / _check(sha256)[:2] / f"{sha256}.png"

    def put(
        self,
        sha256: str,
        data: bytes,
        thumbnail: bytes,
        thumbnail_mime: str,
        display: bytes | None = None,
    ) -> None:
        """Store an original and its renditions; content already stored is not written again."""
        self._write_once(self.original_path(sha256), data)
        self._write_once(self.thumbnail_path(sha256, thumbnail_mime), thumbnail)
        if display is not None:
            self._write_once(self.display_path(sha256), display)

    def _write_once(self, path: Path, data: bytes) -> None:
        if path.exists():
            # Reused content is made young again, so that `curator gc` leaves it to the
            # import that is about to name it even if no row named it until now.
            with suppress(OSError):
                os.utime(path)
            return
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _check(sha256: str) -> str:
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return sha256
