"""The per-file work of an import, the same in a request, a Celery task or the CLI.

``prepare`` is the CPU part: hash, skip content the project already has, decode, and
store the original and its thumbnail. It touches no database, so the CLI runs it in a
process pool and a job spreads it across worker processes. ``expand`` turns uploaded
files, zips included, into the items to prepare, one error per bad entry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from app.config import Settings
from app.images.storage import ImageStore
from app.imports.archive import ArchiveError, ArchiveLimits, Member, is_zip, iter_zip
from app.imports.decode import DecodeLimits, ImageRejected, decode_image, too_large

LabelPath = tuple[str, ...]


@dataclass(frozen=True)
class Prepared:
    """A new image, stored; its row is still to be written."""

    name: str
    sha256: str
    size_bytes: int
    format: str
    width: int
    height: int
    orientation: int
    phash: str
    thumbnail_mime: str


@dataclass(frozen=True)
class Known:
    """Content the project already has: a duplicate, not decoded again."""

    name: str
    sha256: str


@dataclass(frozen=True)
class Failed:
    name: str
    error: str


Outcome = Prepared | Known | Failed


@dataclass(frozen=True)
class Limits:
    decode: DecodeLimits
    archive: ArchiveLimits

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            DecodeLimits(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels),
            ArchiveLimits(
                max_members=settings.max_archive_files,
                max_member_bytes=settings.max_image_bytes,
                max_total_bytes=settings.max_archive_bytes,
            ),
        )


def prepare(
    name: str, data: bytes, store: ImageStore, limits: DecodeLimits, known: Container[str]
) -> Outcome:
    sha256 = hashlib.sha256(data).hexdigest()
    if sha256 in known:
        return Known(name, sha256)
    try:
        image = decode_image(data, limits)
    except ImageRejected as exc:
        return Failed(name, str(exc))
    store.put(image.sha256, data, image.thumbnail, image.thumbnail_mime, image.display)
    return Prepared(
        name=name,
        sha256=image.sha256,
        size_bytes=len(data),
        format=image.format,
        width=image.width,
        height=image.height,
        orientation=image.orientation,
        phash=image.phash,
        thumbnail_mime=image.thumbnail_mime,
    )


def folder_label(name: str) -> LabelPath | None:
    """The category path an ImageFolder layout gives a file: its folders, root first."""
    parts = tuple(name.split("/")[:-1])
    return parts or None


@dataclass(frozen=True)
class Entry:
    """One file of an upload: read from a plain file, or from inside a zip."""

    name: str
    data: bytes


def expand(filename: str, file: BinaryIO, limits: Limits) -> Iterator[Entry | Failed]:
    """The entries of one uploaded file: itself, or each file of a zip.

    ``file`` must be seekable. A refused zip entry, or a zip refused as a whole, comes out
    as ``Failed`` so that the rest of the upload still goes in.
    """
    head = file.read(4)
    file.seek(0)
    if not is_zip(head):
        size = file.seek(0, 2)
        file.seek(0)
        if size > limits.decode.max_bytes:  # refused unread: it may be gigabytes
            yield Failed(filename, too_large(size, limits.decode.max_bytes))
        else:
            yield Entry(filename, file.read())
        return
    try:
        for member in iter_zip(file, limits.archive):
            if isinstance(member, Member):
                yield Entry(member.name, member.data)
            else:
                yield Failed(member.name, member.error)
    except ArchiveError as exc:
        yield Failed(filename, str(exc))
