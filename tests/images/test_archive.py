"""Zip reading: every hostile archive is built here, in code, from zipfile plus byte edits."""

from __future__ import annotations

import io
import random
import re
import stat
import struct
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from app.imports.archive import (
    ArchiveError,
    ArchiveLimits,
    Member,
    MemberError,
    is_zip,
    iter_zip,
)

Entry = tuple[str | zipfile.ZipInfo, bytes]

# Small limits keep every bomb test in kilobytes.
SMALL = ArchiveLimits(max_members=50, max_member_bytes=100_000, max_total_bytes=250_000)


def make_zip(entries: list[Entry], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def read_all(data: bytes, limits: ArchiveLimits = ArchiveLimits()) -> list[Member | MemberError]:
    return list(iter_zip(io.BytesIO(data), limits))


def results(data: bytes, limits: ArchiveLimits = ArchiveLimits()) -> dict[str, str | bytes]:
    """Name -> data for members, name -> error sentence for refused entries."""
    return {
        item.name: item.data if isinstance(item, Member) else item.error
        for item in read_all(data, limits)
    }


def headers(data: bytes) -> list[tuple[int, int]]:
    """(local header offset, central directory header offset) of each entry, in order."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        pos = archive.start_dir
        locals_ = [info.header_offset for info in archive.infolist()]
    pairs = []
    for local in locals_:
        pairs.append((local, pos))
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        pos += 46 + name_len + extra_len + comment_len
    return pairs


def patch_entry(data: bytes, index: int, *, flags: int = 0, file_size: int | None = None) -> bytes:
    """Set flag bits or the uncompressed size of one entry, in both of its headers."""
    out = bytearray(data)
    local, central = headers(data)[index]
    for offset in (local + 6, central + 8):
        (old,) = struct.unpack_from("<H", out, offset)
        struct.pack_into("<H", out, offset, old | flags)
    if file_size is not None:
        struct.pack_into("<I", out, local + 22, file_size)
        struct.pack_into("<I", out, central + 24, file_size)
    return bytes(out)


def rename_raw(data: bytes, placeholder: str, raw_name: bytes) -> bytes:
    """Swap a name's bytes (same length) in the local and central headers, leaving the flags."""
    old = placeholder.encode("ascii")
    assert len(old) == len(raw_name)
    assert data.count(old) == 2
    return data.replace(old, raw_name)


def forbid_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an entry was read")

    monkeypatch.setattr(zipfile.ZipFile, "open", refuse)


def test_happy_path_keeps_order_names_and_bytes() -> None:
    data = make_zip(
        [
            ("cats/tabby/1.jpg", b"tabby one"),
            ("cats/2.jpg", b"cat two"),
            ("dogs/husky/deep/3.png", b"husky"),
            ("top.gif", b""),
        ]
    )

    assert read_all(data) == [
        Member("cats/tabby/1.jpg", b"tabby one"),
        Member("cats/2.jpg", b"cat two"),
        Member("dogs/husky/deep/3.png", b"husky"),
        Member("top.gif", b""),
    ]


def test_stored_and_deflated_entries_both_read() -> None:
    stored = make_zip([("a.jpg", b"x" * 5000)], method=zipfile.ZIP_STORED)
    deflated = make_zip([("a.jpg", b"x" * 5000)], method=zipfile.ZIP_DEFLATED)

    assert read_all(stored) == read_all(deflated) == [Member("a.jpg", b"x" * 5000)]


@pytest.mark.parametrize(
    "head",
    [b"PK\x03\x04rest", b"PK\x05\x06", b"PK\x07\x08...."],
)
def test_is_zip_recognises_zip_magic(head: bytes) -> None:
    assert is_zip(head)


@pytest.mark.parametrize("head", [b"", b"PK", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n", b"PK\x03"])
def test_is_zip_refuses_other_heads(head: bytes) -> None:
    assert not is_zip(head)


def test_is_zip_on_a_real_archive() -> None:
    assert is_zip(make_zip([("a.jpg", b"a")])[:8])


# The whole archive refused.


def _good() -> bytes:
    return make_zip([("a/one.jpg", b"one" * 100), ("two.jpg", b"two" * 100)])


def _bad_central_signature() -> bytes:
    data = bytearray(_good())
    data[headers(bytes(data))[0][1]] = ord("X")
    return bytes(data)


def _bad_central_length() -> bytes:
    data = bytearray(_good())
    eocd = data.rfind(b"PK\x05\x06")
    (size,) = struct.unpack_from("<I", data, eocd + 12)
    struct.pack_into("<I", data, eocd + 12, size - 20)  # cuts the last header short
    return bytes(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"just some text, not an archive\n" * 10, id="text"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(200), id="png"),
        pytest.param(_good()[:-10], id="end-record-cut"),
        pytest.param(_good()[: len(_good()) // 2], id="cut-in-half"),
        pytest.param(_bad_central_signature(), id="central-directory-signature"),
        pytest.param(_bad_central_length(), id="central-directory-truncated"),
    ],
)
def test_corrupt_or_not_a_zip_is_an_archive_error(data: bytes) -> None:
    with pytest.raises(ArchiveError, match=r"^Not a readable zip archive: it is corrupt"):
        read_all(data)


def test_names_flagged_utf8_that_are_not_utf8_refuse_the_archive() -> None:
    data = make_zip([("XX.jpg", b"a")])
    data = patch_entry(rename_raw(data, "XX.jpg", b"\xff\xfe.jpg"), 0, flags=0x800)

    with pytest.raises(ArchiveError, match="UTF-8"):
        read_all(data)


def test_too_many_members_is_refused_before_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_zip([(f"{i}.jpg", b"x") for i in range(4)])
    forbid_reading(monkeypatch)

    with pytest.raises(ArchiveError, match="4 entries; at most 3"):
        read_all(data, ArchiveLimits(max_members=3))


def test_exactly_max_members_is_fine() -> None:
    data = make_zip([(f"{i}.jpg", b"x") for i in range(3)])

    assert len(read_all(data, ArchiveLimits(max_members=3))) == 3


def test_declared_total_over_the_limit_is_refused_before_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A bomb by the sum: each entry is under the per-file limit, the three are not.
    data = make_zip([(f"zeros{i}.bin", bytes(90_000)) for i in range(3)])
    assert len(data) < 2_000
    forbid_reading(monkeypatch)

    with pytest.raises(
        ArchiveError, match=re.escape("uncompress to 263.7 KiB, over the 244.1 KiB")
    ):
        read_all(data, SMALL)


def test_a_wrong_central_directory_offset_spoils_each_entry_not_the_listing() -> None:
    # zipfile finds the central directory from the end record's position and reads the offset
    # as "data was prepended" (self-extractors), so every entry then points at the wrong place.
    data = bytearray(_good())
    eocd = data.rfind(b"PK\x05\x06")
    struct.pack_into("<I", data, eocd + 16, 3)

    assert results(bytes(data)) == {
        "a/one.jpg": "the entry is corrupt and cannot be read",
        "two.jpg": "the entry is corrupt and cannot be read",
    }


# One entry refused, the rest goes on.


def test_entry_declared_over_the_member_limit() -> None:
    data = make_zip([("big.bin", bytes(100_001)), ("ok.jpg", b"ok")])

    assert results(data, SMALL) == {
        "big.bin": "it uncompresses to 97.7 KiB, over the 97.7 KiB limit per file",
        "ok.jpg": b"ok",
    }


def test_high_compression_ratio_is_a_bomb_signal() -> None:
    data = make_zip([("zeros.png", bytes(2 * 2**20)), ("ok.jpg", b"ok")])

    assert results(data) == {
        "zeros.png": "it compresses more than 200:1, a sign of a zip bomb",
        "ok.jpg": b"ok",
    }


def test_small_files_are_never_flagged_for_their_ratio() -> None:
    data = make_zip([("blank.png", bytes(2**20))])  # about 1000:1, but only 1 MiB

    assert read_all(data) == [Member("blank.png", bytes(2**20))]


def test_lying_header_is_caught_without_reading_past_the_declared_size() -> None:
    # The headers say 100 bytes; the deflate stream holds 50,000. zipfile stops at 100 and
    # the checksum (of all 50,000) then fails.
    data = make_zip([("liar.jpg", bytes(50_000)), ("ok.jpg", b"ok")])
    data = patch_entry(data, 0, file_size=100)

    assert results(data, SMALL) == {
        "liar.jpg": "the entry is corrupt and cannot be read",
        "ok.jpg": b"ok",
    }


class Endless(io.RawIOBase):
    """An entry stream that never ends, as a reader that believed a lying header would see."""

    def __init__(self) -> None:
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        view[:] = b"\0" * len(view)
        self.served += len(view)
        return len(view)


def test_reads_stop_at_the_member_cap_even_if_the_stream_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # zipfile already stops at the declared size; this pins our own cap, should it not.
    streams: list[Endless] = []

    def endless(*args: Any, **kwargs: Any) -> Endless:
        streams.append(Endless())
        return streams[-1]

    data = make_zip([("a.jpg", b"tiny"), ("b.jpg", b"tiny")])
    monkeypatch.setattr(zipfile.ZipFile, "open", endless)

    limits = ArchiveLimits(max_member_bytes=10_000)
    assert results(data, limits) == {
        "a.jpg": "it uncompresses to more than the 9.8 KiB limit per file",
        "b.jpg": "it uncompresses to more than the 9.8 KiB limit per file",
    }
    assert [stream.served for stream in streams] == [10_001, 10_001]


def test_more_data_than_declared_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_zip([("a.jpg", b"tiny")])
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: io.BytesIO(b"tiny but more"))

    assert results(data) == {"a.jpg": "it holds more data than its header declares"}


def test_actual_total_over_the_limit_stops_the_archive(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every header is honest about a few bytes, so the declared total passes; the streams then
    # deliver 100,000 bytes each (under the per-file cap). The third takes the actual total
    # past 250,000: that entry is refused and the archive ends there.
    data = make_zip([(f"{i}.jpg", b"tiny") for i in range(5)])
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: io.BytesIO(bytes(100_000)))
    seen: list[Member | MemberError] = []

    with pytest.raises(ArchiveError, match=re.escape("uncompresses to more than 244.1 KiB")):
        seen.extend(iter_zip(io.BytesIO(data), SMALL))

    liar = "it holds more data than its header declares"
    assert seen == [
        MemberError("0.jpg", liar),
        MemberError("1.jpg", liar),
        MemberError("2.jpg", "the archive's uncompressed size passes the limit here"),
    ]


def test_actual_total_within_the_limit_goes_on() -> None:
    data = make_zip([(f"{i}.jpg", bytes(80_000)) for i in range(3)])

    assert len([m for m in read_all(data, SMALL) if isinstance(m, Member)]) == 3


def test_corrupt_entry_data_refuses_that_entry_only() -> None:
    payload = random.Random(1).randbytes(5000)  # incompressible: the edit lands in its data
    data = bytearray(make_zip([("bad.jpg", payload), ("ok.jpg", b"ok")]))
    local = headers(bytes(data))[0][0]
    name_len, extra_len = struct.unpack_from("<HH", data, local + 26)
    start = local + 30 + name_len + extra_len
    data[start + 10 : start + 30] = bytes(range(20))

    assert results(bytes(data)) == {
        "bad.jpg": "the entry is corrupt and cannot be read",
        "ok.jpg": b"ok",
    }


@pytest.mark.parametrize(
    "name",
    [
        "../evil.jpg",
        "a/../../evil.jpg",
        "a/../b.jpg",
        "..",
        "/etc/passwd",
        "//server/share/x.jpg",
        "\\\\server\\share\\x.jpg",
        "C:\\Windows\\x.jpg",
        "C:/x.jpg",
        "c:x.jpg",
        "..\\..\\evil.jpg",
        "a\\..\\..\\evil.jpg",
        "a/... /b.jpg",
        ".",
    ],
)
def test_unsafe_paths_are_refused(name: str) -> None:
    data = make_zip([(name, b"payload"), ("ok.jpg", b"ok")])

    assert results(data) == {name: "unsafe path: it is absolute or uses '..'", "ok.jpg": b"ok"}


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("a\\b\\c.jpg", "a/b/c.jpg"),
        ("a//b///c.jpg", "a/b/c.jpg"),
        ("./a/./b.jpg", "a/b.jpg"),
        ("a\\/b.jpg", "a/b.jpg"),
        ("..hidden/x..y.jpg", "..hidden/x..y.jpg"),
        ("café/ok.jpg", "café/ok.jpg"),
    ],
)
def test_safe_paths_are_normalised(name: str, normalised: str) -> None:
    assert read_all(make_zip([(name, b"data")])) == [Member(normalised, b"data")]


def test_symlinks_are_refused() -> None:
    link = zipfile.ZipInfo("cats/link.jpg")
    link.create_system = 3  # unix
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    data = make_zip([(link, b"../../../etc/passwd"), ("cats/ok.jpg", b"ok")])

    assert results(data) == {
        "cats/link.jpg": "symbolic links are not imported",
        "cats/ok.jpg": b"ok",
    }


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("inner.zip", b"anything"),
        ("INNER.ZIP", b"anything"),
        ("photos.tar", b"anything"),
        ("photos.tar.gz", b"anything"),
        ("photos.7z", b"anything"),
        ("photos.rar", b"anything"),
        ("disguised.jpg", make_zip([("x.jpg", b"x")])),
        ("empty-zip.jpg", make_zip([])),
    ],
)
def test_nested_archives_are_refused(name: str, payload: bytes) -> None:
    data = make_zip([(name, payload), ("ok.jpg", b"ok")])

    assert results(data) == {
        name: "nested archives are not imported; unpack it first",
        "ok.jpg": b"ok",
    }


def test_directories_and_os_junk_are_skipped_silently() -> None:
    data = make_zip(
        [
            ("photos/", b""),
            ("photos\\sub\\", b""),
            ("photos/a.jpg", b"a"),
            ("__MACOSX/", b""),
            ("__MACOSX/photos/._a.jpg", b"resource fork"),
            ("photos/.DS_Store", b"finder"),
            (".ds_store", b"finder"),
            ("photos/Thumbs.db", b"thumbs"),
            ("THUMBS.DB", b"thumbs"),
            ("photos/._b.jpg", b"apple double"),
            ("photos/b.jpg", b"b"),
        ]
    )

    assert read_all(data) == [Member("photos/a.jpg", b"a"), Member("photos/b.jpg", b"b")]


def test_encrypted_entries_are_refused() -> None:
    data = make_zip([("secret.jpg", b"ciphertext, notionally"), ("ok.jpg", b"ok")])
    data = patch_entry(data, 0, flags=0x1)

    assert results(data) == {
        "secret.jpg": "encrypted entries are not supported",
        "ok.jpg": b"ok",
    }


@pytest.mark.parametrize(
    ("method", "label"), [(zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "LZMA")]
)
def test_compression_without_a_bounded_reader_is_refused(method: int, label: str) -> None:
    data = make_zip([("a.jpg", b"a" * 100)], method=method)

    assert results(data) == {
        "a.jpg": f"its compression ({label}) is not supported; zip it again with default settings"
    }


# Names that are not UTF-8: zipfile decodes them as cp437, and so do we.


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        ("café.jpg".encode("latin-1"), "latin-1"),
        ("写真/猫.jpg".encode("shift_jis"), "shift_jis"),
    ],
)
def test_legacy_encoded_names_are_decoded_as_cp437(raw: bytes, encoding: str) -> None:
    placeholder = "N" * len(raw)
    data = rename_raw(make_zip([(placeholder, b"meow")]), placeholder, raw)

    [member] = read_all(data)

    assert member == Member(raw.decode("cp437").replace("\\", "/"), b"meow")
    assert member.name.isprintable()


def test_control_characters_in_names_are_replaced() -> None:
    raw = b"bad\x07\x1b[2J\x7f.jpg"
    placeholder = "N" * len(raw)
    data = rename_raw(make_zip([(placeholder, b"data")]), placeholder, raw)

    assert read_all(data) == [Member("bad\ufffd\ufffd[2J\ufffd.jpg", b"data")]


def test_unsafe_names_are_reported_printably() -> None:
    raw = b"..\\\x1b[31mevil.jpg"
    placeholder = "N" * len(raw)
    data = rename_raw(make_zip([(placeholder, b"data")]), placeholder, raw)

    [error] = read_all(data)

    assert error == MemberError(
        "..\\\ufffd[31mevil.jpg", "unsafe path: it is absolute or uses '..'"
    )


def test_bidi_overrides_in_utf8_names_are_replaced() -> None:
    data = make_zip([("cat\u202egpj.exe", b"data")])

    assert read_all(data) == [Member("cat\ufffdgpj.exe", b"data")]


# Whatever the bytes, only ArchiveError, Member and MemberError come out.


def _mutants(seed: int) -> Iterator[bytes]:
    base = make_zip(
        [
            ("a/one.jpg", bytes(range(256)) * 8),
            ("two.png", b"two" * 50),
            ("b/c/three.gif", bytes(3000)),
        ]
    )
    stored = make_zip([("s.jpg", b"stored" * 30), ("t/u.jpg", b"u")], method=zipfile.ZIP_STORED)
    rng = random.Random(seed)
    for original in (base, stored):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        yield bytes(data)
        yield original[: rng.randrange(len(original))]


@pytest.mark.parametrize("seed", range(200))
def test_damaged_archives_never_raise_anything_else(seed: int) -> None:
    for data in _mutants(seed):
        try:
            items = read_all(data, SMALL)
        except ArchiveError:
            continue
        for item in items:
            assert isinstance(item, Member | MemberError)
            assert item.name.isprintable()
