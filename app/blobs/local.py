"""`file://`: blobs are files under one directory (by default the data dir)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

from app.blobs.base import BlobInfo, check_key


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.url = f"file://{self.root}"
        self._folders: set[Path] = set()  # made already: one mkdir per folder, not per file

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def local_path(self, key: str) -> Path | None:
        return self.path(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._replace(key, lambda out: out.write(data))

    def put_file(self, key: str, path: Path) -> None:
        with path.open("rb") as source:
            self._replace(key, lambda out: shutil.copyfileobj(source, out, 1 << 20))

    def _replace(self, key: str, write: Callable[[BinaryIO], object]) -> None:
        # Write beside the target and rename: readers never see half a file, and two
        # processes writing the same content at once both succeed.
        target = self.path(key)
        if target.parent not in self._folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(target.parent)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def read_range(self, key: str, start: int, end: int) -> bytes:
        with self.path(key).open("rb") as f:
            f.seek(start)
            return f.read(end - start + 1)

    def download(self, key: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out, self.path(key).open("rb") as source:
                shutil.copyfileobj(source, out, 1 << 20)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def info(self, key: str) -> BlobInfo | None:
        try:
            st = self.path(key).stat()
        except FileNotFoundError:
            return None
        return BlobInfo(key, st.st_size, st.st_mtime)

    def touch(self, key: str) -> None:
        with suppress(OSError):
            os.utime(self.path(key))

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> Iterator[BlobInfo]:
        base = self.root / prefix.rstrip("/") if prefix else self.root
        if base.is_file():
            yield self._info_of(base)
            return
        for folder, _dirs, files in os.walk(base):
            for name in files:
                if not name.startswith(".tmp-"):
                    yield self._info_of(Path(folder) / name)

    def _info_of(self, path: Path) -> BlobInfo:
        st = path.stat()
        return BlobInfo(path.relative_to(self.root).as_posix(), st.st_size, st.st_mtime)

    def presigned_url(self, key: str, *, mime: str, seconds: int) -> str | None:
        return None

    def public_origin(self) -> str | None:
        return None
