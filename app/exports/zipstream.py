"""A zip written front to back into memory and handed out in chunks as it grows.

The stdlib ``zipfile`` writes to a sink it cannot seek: it then puts each entry's sizes
and CRC in a data descriptor after the data, which every mainstream reader accepts. So
an export of any size holds one chunk of one file at a time, never the archive.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO, cast

CHUNK = 1 << 16  # bytes handed out at a time; also the read size for files


class _Sink:
    """Write-only and unseekable on purpose: zipfile then streams instead of seeking back."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def read_chunks(file: IO[bytes]) -> Iterator[bytes]:
    while block := file.read(CHUNK):
        yield block


class ZipStream:
    def __init__(self, when: datetime) -> None:
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(cast(IO[bytes], self._sink), "w")
        self._when = (when.year, when.month, when.day, when.hour, when.minute, when.second)
        self.bytes_out = 0

    def _ready(self, *, everything: bool = False) -> Iterator[bytes]:
        if len(self._sink.buffer) >= CHUNK or (everything and self._sink.buffer):
            data = self._sink.take()
            self.bytes_out += len(data)
            yield data

    def entry(
        self, name: str, chunks: Iterable[bytes], size: int, *, deflate: bool
    ) -> Iterator[bytes]:
        """One file of ``size`` bytes (a hint: it decides whether Zip64 headers are needed)."""
        info = zipfile.ZipInfo(name, date_time=self._when)
        info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16  # a plain file, readable by all once unpacked
        info.file_size = size
        with self._zip.open(info, "w") as dest:
            for block in chunks:
                dest.write(block)
                yield from self._ready()
        yield from self._ready()

    def close(self) -> Iterator[bytes]:
        """The central directory, and whatever is still buffered."""
        self._zip.close()
        yield from self._ready(everything=True)
