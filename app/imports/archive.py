"""Read an uploaded zip safely: each entry is checked before its bytes reach the importer.

Pure: no database, no HTTP, nothing written to disk. Entries come out in archive order, as a
`Member` to import or a `MemberError` the user will read; only a problem with the archive as a
whole raises `ArchiveError`.

Sizes are enforced three times. Before anything is read, the declared sizes in the central
directory (the archive's total, then each entry's size and compression ratio). While reading,
each entry is streamed with a hard cap of `max_member_bytes + 1`, so a header that lies about
its size cannot make us hold more. After each entry, the bytes actually decompressed are added
to a running total; the entry that takes it past `max_total_bytes` gets a `MemberError`, and
then `ArchiveError` ends the iteration. Members yielded before that stay valid: a caller
imports the good files of a bad upload, as it does for any other refused entry.
"""

from __future__ import annotations

import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

# Local file header, end of central directory (an empty zip), spanned-archive marker.
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
_NESTED = "nested archives are not imported; unpack it first"
_UNSAFE = "unsafe path: it is absolute or uses '..'"
_JUNK_NAMES = frozenset({".ds_store", "thumbs.db"})  # compared lower-cased, like the OSes do
_MANIFEST = "manifest.json"  # app.exports.manifest writes it into every export
# Only stored and deflate: for those zipfile bounds what one read() inflates. bzip2 and LZMA
# data go to a decompressor without an output limit, and 4 KiB of bzip2 inflates to gigabytes
# inside a single call, before any cap of ours can act.
_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_METHOD_NAMES = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "LZMA", 9: "Deflate64"}
# Small files compress well for innocent reasons (a blank PNG, a text file): no ratio check.
_RATIO_FLOOR = 2**20
_CHUNK = 2**20
# What zipfile, zlib and a damaged file make us see (UnicodeDecodeError is a ValueError,
# NotImplementedError a RuntimeError). Anything else is a bug of ours and should surface.
_UNREADABLE = (
    zipfile.BadZipFile,
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,
)
# C0/C1 controls garble logs and terminals; bidi overrides make "gpj.exe" display as "exe.jpg".
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_DRIVE = re.compile(r"[A-Za-z]:")  # "C:\x" and the drive-relative "C:x"


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 100_000  # entries in the central directory
    max_member_bytes: int = 50 * 2**20  # one entry, uncompressed
    max_total_bytes: int = 20 * 2**30  # whole archive, uncompressed, declared or actual
    max_ratio: int = 200  # per entry: uncompressed / compressed, a bomb signal


@dataclass(frozen=True)
class Member:
    """An entry to import."""

    name: str  # path inside the zip, "/"-separated, normalised, never starting with "/"
    data: bytes


@dataclass(frozen=True)
class MemberError:
    """An entry refused; the rest of the archive still goes on."""

    name: str  # printable: what the user will see in the errors list
    error: str  # a sentence: what is wrong


class ArchiveError(Exception):
    """The whole archive is refused; the message is meant for the user."""


def is_zip(data_head: bytes) -> bool:
    """Whether these first bytes of a file are a zip's (self-extracting zips are not)."""
    return data_head[:4] in _ZIP_MAGICS


def iter_zip(
    file: BinaryIO, limits: ArchiveLimits = ArchiveLimits()
) -> Iterator[Member | MemberError]:
    """The entries of a zip in a seekable binary file, checked; see the module docstring.

    A generator: every `ArchiveError` comes from iterating, never from the call itself.
    Directories and OS junk (`__MACOSX/`, `.DS_Store`, `Thumbs.db`, `._*`) are skipped, and
    so are an export's `manifest.json` and the labels files at the root (`iter_sidecars`
    reads those).
    """
    try:
        archive = zipfile.ZipFile(file)
    except UnicodeDecodeError as exc:
        raise ArchiveError("The archive says its file names are UTF-8, but they are not.") from exc
    except _UNREADABLE as exc:
        raise ArchiveError("Not a readable zip archive: it is corrupt or truncated.") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_members:
            raise ArchiveError(
                f"The archive has {len(infos):,} entries; "
                f"at most {limits.max_members:,} are allowed."
            )
        declared = sum(info.file_size for info in infos)
        if declared > limits.max_total_bytes:
            raise ArchiveError(
                f"The archive would uncompress to {_size(declared)}, "
                f"over the {_size(limits.max_total_bytes)} limit."
            )
        total = 0
        for info in infos:
            raw = info.filename.replace("\\", "/")  # Windows tools write "\" separators
            if raw.endswith("/"):
                continue  # a directory: its files carry their own paths
            path = _safe_path(raw)
            if path is None:
                yield MemberError(_printable(info.filename), _UNSAFE)
                continue
            if is_junk(path) or is_metadata(path) or is_labels_file(path):
                continue
            name = _printable(path)
            problem = _refusal(info, path, limits)
            if problem is not None:
                yield MemberError(name, problem)
                continue
            try:
                data = _read_capped(archive, info, limits.max_member_bytes + 1)
            except _UNREADABLE:
                yield MemberError(name, "the entry is corrupt and cannot be read")
                continue
            total += len(data)  # what was inflated, whatever the headers said
            if total > limits.max_total_bytes:
                yield MemberError(name, "the archive's uncompressed size passes the limit here")
                raise ArchiveError(
                    f"The archive uncompresses to more than {_size(limits.max_total_bytes)}; "
                    "the files after this point were not read."
                )
            problem = _refusal_of_data(info, data, limits)
            yield Member(name, data) if problem is None else MemberError(name, problem)


def _safe_path(path: str) -> str | None:
    """The path with empty and "." segments dropped, or None if it could leave the import root."""
    # "/x", and "//server/share" (from "\\server\share"), are absolute.
    if path.startswith("/") or _DRIVE.match(path):
        return None
    parts = [part for part in path.split("/") if part not in ("", ".")]
    # Not only "..": Windows trims trailing dots and spaces, so "... " means ".." there too.
    if not parts or any(not part.strip(". ") for part in parts):
        return None
    return "/".join(parts)


def iter_sidecars(
    file: BinaryIO, limits: ArchiveLimits, max_bytes: int
) -> Iterator[Member | MemberError]:
    """The files beside the images at the root of a zip: the labels files (see
    `is_labels_file`) and an export's manifest.json, checked like any entry.

    Yields nothing for a zip that cannot be read: `iter_zip` reports that. Leaves ``file``
    wherever reading left it.
    """
    try:
        archive = zipfile.ZipFile(file)
    except _UNREADABLE:
        return
    capped = ArchiveLimits(limits.max_members, max_bytes, limits.max_total_bytes, limits.max_ratio)
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_members:
            return
        for info in infos:
            path = _safe_path(info.filename.replace("\\", "/"))
            if path is None or info.filename.endswith(("/", "\\")):
                continue
            if not is_labels_file(path) and path.lower() != _MANIFEST:
                continue
            name = _printable(path)
            problem = _refusal(info, path, capped)
            if problem is None:
                try:
                    data = _read_capped(archive, info, max_bytes + 1)
                except _UNREADABLE:
                    problem = "the entry is corrupt and cannot be read"
                else:
                    problem = _refusal_of_data(info, data, capped)
            yield Member(name, data) if problem is None else MemberError(name, problem)


def is_labels_file(path: str) -> bool:
    """A labels file beside the images: a CSV export's labels.csv or a COCO json, at the root."""
    lower = path.lower()
    if "/" in path or lower == _MANIFEST:
        return False
    return lower == "labels.csv" or lower.endswith(".json")


def is_metadata(path: str) -> bool:
    """What our export writes beside the images that is no image and labels nothing."""
    return path.rsplit("/", 1)[-1].lower() == _MANIFEST


def is_junk(path: str) -> bool:
    parts = path.split("/")
    base = parts[-1]
    return "__MACOSX" in parts or base.lower() in _JUNK_NAMES or base.startswith("._")


def _refusal(info: zipfile.ZipInfo, path: str, limits: ArchiveLimits) -> str | None:
    """Why this entry is refused on its central-directory record alone, or None."""
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic links are not imported"
    if info.flag_bits & 0x1:
        return "encrypted entries are not supported"
    if path.lower().endswith(_ARCHIVE_SUFFIXES):
        return _NESTED
    if info.compress_type not in _METHODS:
        method = _METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
        return f"its compression ({method}) is not supported; zip it again with default settings"
    if info.file_size > limits.max_member_bytes:
        return (
            f"it uncompresses to {_size(info.file_size)}, "
            f"over the {_size(limits.max_member_bytes)} limit per file"
        )
    if info.file_size > _RATIO_FLOOR and info.file_size > limits.max_ratio * info.compress_size:
        return f"it compresses more than {limits.max_ratio}:1, a sign of a zip bomb"
    return None


def _refusal_of_data(info: zipfile.ZipInfo, data: bytes, limits: ArchiveLimits) -> str | None:
    """Why this entry is refused once read (its header lied, or it is a zip), or None."""
    if len(data) > limits.max_member_bytes:
        return f"it uncompresses to more than the {_size(limits.max_member_bytes)} limit per file"
    if len(data) > info.file_size:
        return "it holds more data than its header declares"
    return _NESTED if is_zip(data) else None


def _read_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    """At most `cap` bytes of the entry, read in chunks so a lying header costs nothing more."""
    chunks: list[bytes] = []
    got = 0
    with archive.open(info) as stream:
        while got < cap and (chunk := stream.read(min(_CHUNK, cap - got))):
            chunks.append(chunk)
            got += len(chunk)
    return b"".join(chunks)


def _printable(name: str) -> str:
    return _UNPRINTABLE.sub("\ufffd", name)


def _size(n: int) -> str:
    for shift, unit in ((30, "GiB"), (20, "MiB"), (10, "KiB")):
        if n >= 1 << shift:
            return f"{round(n / (1 << shift), 1):g} {unit}"
    return f"{n} bytes"
