"""Unpack a backup into a staging folder, refusing anything a backup never holds.

Every member is checked before a byte of it is written: a plain file, a safe relative
name, a size that fits, and a path that a row of the backup's own database names. The
staged path is built from that checked name under the staging folder, so nothing can be
written anywhere else. Hashes are computed while unpacking and compared afterwards.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import shutil
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from app.ops import archive_format as fmt
from app.ops.archive_format import ArchiveError, Entry, Header, Manifest
from app.ops.named_files import NamedFiles, Wanted, accepts, wanted

_CHUNK = 1 << 20
_DISK_MARGIN = 64 * 2**20  # left free, so that a restore never fills the disk to the brim
Advance = Callable[[int], None]


@dataclass
class Extracted:
    header: Header
    database: Path
    database_entry: Entry
    revision: str  # as the snapshot itself records it
    want: Wanted
    secret_key: bytes | None = None
    secret_entry: Entry | None = None
    files: dict[str, Entry] = field(default_factory=dict)
    manifest: Manifest | None = None


class _Counting:
    """Reports how far into the archive file the unpacking has read."""

    def __init__(self, source: IO[bytes], advance: Advance) -> None:
        self.source, self.advance = source, advance

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.advance(len(data))
        return data


def _check_kind(member: tarfile.TarInfo) -> None:
    name = member.name[:200]
    if member.issym() or member.islnk():
        raise ArchiveError(f"member {name!r} is a link; a backup holds only plain files")
    if member.isdev() or member.isdir() or member.issparse() or not member.isfile():
        raise ArchiveError(f"member {name!r} is not a plain file; a backup holds only plain files")


def _open(tar: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    handle = tar.extractfile(member)
    if handle is None:  # only for links and folders, refused before
        raise ArchiveError(f"member {member.name!r} has no content")
    return handle


def _small(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int) -> bytes:
    if member.size > limit:
        raise ArchiveError(
            f"member {member.name!r} is {member.size} bytes; at most {limit} expected"
        )
    return _open(tar, member).read()


def _stream(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> Entry:
    free = shutil.disk_usage(target.parent).free
    if member.size + _DISK_MARGIN > free:
        raise ArchiveError(
            f"member {member.name!r} is {member.size} bytes, more than the "
            f"{free} bytes free beside the data dir"
        )
    handle = _open(tar, member)
    digest, written = hashlib.sha256(), 0
    with target.open("xb") as out:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            written += len(chunk)
    if written != member.size:
        raise ArchiveError(f"member {member.name!r} is truncated")
    return Entry(written, digest.hexdigest())


class _Unpacker:
    def __init__(
        self,
        staging: Path,
        check_header: Callable[[Header], None],
        read_rows: Callable[[Header, Path], tuple[str, NamedFiles]],
    ) -> None:
        self.staging, self.check_header, self.read_rows = staging, check_header, read_rows
        self.header: Header | None = None
        self.result: Extracted | None = None
        self.seen: set[str] = set()

    def take(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = fmt.check_member_name(member.name)
        _check_kind(member)
        if name in self.seen:
            raise ArchiveError(f"member {name!r} appears twice")
        self.seen.add(name)
        if self.header is None:
            if name != fmt.HEADER:
                raise ArchiveError(
                    f"the archive does not start with {fmt.HEADER}: not a Curator backup"
                )
            self.header = fmt.parse_header(_small(tar, member, fmt.MAX_JSON_BYTES))
            self.check_header(self.header)
            return
        if self.result is None:
            self._database(tar, member, self.header)
            return
        result = self.result
        if result.manifest is not None:
            raise ArchiveError(f"member {name!r} comes after {fmt.MANIFEST}, which ends a backup")
        if name == fmt.MANIFEST:
            result.manifest = fmt.parse_manifest(_small(tar, member, fmt.MAX_JSON_BYTES))
        elif name == fmt.SECRET_KEY:
            data = _small(tar, member, fmt.MAX_SECRET_BYTES)
            result.secret_key = data
            result.secret_entry = Entry(len(data), hashlib.sha256(data).hexdigest())
        elif name.startswith(fmt.FILES):
            self._file(tar, member, name.removeprefix(fmt.FILES), result)
        else:
            raise ArchiveError(f"member {name!r} is not part of a Curator backup")

    def _database(self, tar: tarfile.TarFile, member: tarfile.TarInfo, header: Header) -> None:
        expected = fmt.DATABASE[header.dialect]
        if member.name != expected:
            raise ArchiveError(f"the database snapshot {expected!r} is missing or out of place")
        path = self.staging / "database"
        entry = _stream(tar, member, path)
        revision, named = self.read_rows(header, path)
        self.result = Extracted(header, path, entry, revision, wanted(named))

    def _file(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, rel: str, result: Extracted
    ) -> None:
        header = self.header
        if header is None:  # the header is the first member; never reached
            raise ArchiveError("the archive does not start with its header")
        if not accepts(result.want, rel):
            raise ArchiveError(f"member {member.name!r} is not named by any row of the backup")
        if len(result.files) >= header.file_count:
            raise ArchiveError(
                f"the archive holds more files than its header's {header.file_count}"
            )
        target = self.staging / "files" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        entry = _stream(tar, member, target)
        sha = result.want.required.get(rel)
        if sha is not None and entry.sha256 != sha:
            raise ArchiveError(
                f"{rel} does not match its row's sha256: the archive is corrupted or was altered"
            )
        result.files[rel] = entry


def extract(
    archive: Path,
    staging: Path,
    check_header: Callable[[Header], None],
    read_rows: Callable[[Header, Path], tuple[str, NamedFiles]],
    advance: Advance = lambda n: None,
) -> Extracted:
    """Unpack ``archive`` below ``staging``; raises ArchiveError on anything untoward."""
    unpacker = _Unpacker(staging, check_header, read_rows)
    try:
        with (
            archive.open("rb") as raw,
            tarfile.open(fileobj=_Counting(raw, advance), mode=fmt.tar_mode(archive, False)) as tar,  # type: ignore[call-overload]
        ):
            for member in tar:
                unpacker.take(tar, member)
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile) as exc:
        raise ArchiveError(f"the archive is damaged or truncated ({exc})") from None
    except OSError as exc:
        if exc.errno is None:  # a decompressor's complaint, not the disk's
            raise ArchiveError(f"the archive is damaged or truncated ({exc})") from None
        raise
    if unpacker.header is None:
        raise ArchiveError("the archive is empty: not a Curator backup")
    if unpacker.result is None:
        raise ArchiveError("the archive has no database snapshot: it is truncated")
    if unpacker.result.manifest is None:
        raise ArchiveError(f"{fmt.MANIFEST} is missing: the archive is truncated or incomplete")
    return unpacker.result
