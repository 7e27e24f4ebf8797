"""Doctored copies of a real backup: what a corrupted disk or an attacker would hand over."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path

Member = tuple[tarfile.TarInfo, bytes | None]
Edit = Callable[[list[Member]], list[Member]]


def read_members(archive: Path) -> list[Member]:
    members: list[Member] = []
    with tarfile.open(archive) as tar:
        for info in tar.getmembers():
            handle = tar.extractfile(info)
            members.append((info, handle.read() if handle else None))
    return members


def write_members(members: list[Member], out: Path) -> Path:
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out


def doctor(archive: Path, out: Path, edit: Edit) -> Path:
    return write_members(edit(read_members(archive)), out)


def plain(name: str, data: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def special(name: str, kind: bytes, linkname: str = "") -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3  # /dev/null's numbers
    return info, None


def before_manifest(members: list[Member], *extra: Member) -> list[Member]:
    return [*members[:-1], *extra, members[-1]]


def replaced(members: list[Member], name: str, new: Member) -> list[Member]:
    assert any(info.name == name for info, _ in members), name
    return [new if info.name == name else (info, data) for info, data in members]


def first_named(members: list[Member], prefix: str) -> str:
    return next(info.name for info, _ in members if info.name.startswith(prefix))


def content(members: list[Member], name: str) -> bytes:
    data = next(data for info, data in members if info.name == name)
    assert data is not None
    return data
