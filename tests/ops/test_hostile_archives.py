"""A damaged or hostile archive is refused with a clear error, and changes nothing.

Each case starts from a real backup and doctors it the way a bad disk, an interrupted
copy or an attacker would. The target stays empty, no staging folder is left behind,
and nothing appears outside the data dir.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import Settings
from app.migrate import upgrade
from app.ops.archive_format import ArchiveError
from app.ops.backup import backup
from app.ops.restore import restore
from tests.ops import archives as a
from tests.ops.conftest import cli
from tests.ops.install import FLOWERS, populate
from tests.support.env import require


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require((FLOWERS / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS}")
    root = tmp_path_factory.mktemp("hostile-source")
    upgrade(f"sqlite:///{root / 'curator.db'}")
    settings = Settings(env="test", data_dir=root)
    populate(settings, per_species=2)
    return backup(settings, root.parent / "good.tar").path


@pytest.fixture
def empty_target(tmp_path: Path) -> Iterator[Settings]:
    data_dir = tmp_path / "sandbox" / "data"
    data_dir.mkdir(parents=True)
    yield Settings(env="test", data_dir=data_dir)
    # Nothing written outside the data dir: the sandbox holds the data dir alone.
    assert [p.name for p in (tmp_path / "sandbox").iterdir()] == ["data"]


def _refused(target: Settings, archive: Path, message: str) -> None:
    with pytest.raises(ArchiveError, match=message):
        restore(target, archive)
    assert list(target.data_dir.iterdir()) == []  # no database, no files, no staging


# An absolute name nothing else uses, so that its absence after the test means something.
ABSOLUTE = "/tmp/curator-backup-test-escaped.txt"  # noqa: S108
CASES: dict[str, tuple[a.Edit, str]] = {
    "path traversal": (
        lambda m: a.before_manifest(m, a.plain("files/../../escaped.txt", b"x")),
        "'..'",
    ),
    "traversal at the top": (
        lambda m: a.before_manifest(m, a.plain("../escaped.txt", b"x")),
        "'..'",
    ),
    "absolute path": (
        lambda m: a.before_manifest(m, a.plain(ABSOLUTE, b"x")),
        "absolute path",
    ),
    "symlink member": (
        lambda m: a.before_manifest(
            m, a.special("files/images/link", tarfile.SYMTYPE, "/etc/passwd")
        ),
        "is a link",
    ),
    "symlink in place of an original": (
        lambda m: a.replaced(
            m,
            a.first_named(m, "files/images/"),
            a.special(a.first_named(m, "files/images/"), tarfile.SYMTYPE, "/etc/passwd"),
        ),
        "is a link",
    ),
    "hard link": (
        lambda m: a.before_manifest(m, a.special("files/x", tarfile.LNKTYPE, "secret_key")),
        "is a link",
    ),
    "device file": (
        lambda m: a.before_manifest(m, a.special("files/images/null", tarfile.CHRTYPE)),
        "not a plain file",
    ),
    "tampered original": (
        lambda m: a.replaced(
            m,
            a.first_named(m, "files/images/"),
            a.plain(a.first_named(m, "files/images/"), b"not the photo"),
        ),
        "does not match its row's sha256",
    ),
    "tampered thumbnail": (
        lambda m: a.replaced(
            m,
            a.first_named(m, "files/thumbnails/"),
            a.plain(a.first_named(m, "files/thumbnails/"), b"\xff\xd8 other bytes"),
        ),
        "do not match their sha256 in manifest.json",
    ),
    "manifest missing": (lambda m: m[:-1], "manifest.json is missing"),
    "header missing": (lambda m: m[1:], "does not start with header.json"),
    "a file left out": (
        lambda m: [x for x in m if x[0].name != a.first_named(m, "files/models/")],
        "listed in manifest.json are not in the archive",
    ),
    "a file no row names": (
        lambda m: a.before_manifest(m, a.plain(f"files/images/00/00/{'0' * 64}", b"x")),
        "not named by any row",
    ),
    "an unknown member": (
        lambda m: a.before_manifest(m, a.plain("run-me.sh", b"rm -rf /")),
        "not part of a Curator backup",
    ),
    "a member twice": (
        lambda m: a.before_manifest(m, m[2]),
        "appears twice",
    ),
    "a member after the manifest": (
        lambda m: [*m, a.plain("files/late", b"x")],
        "comes after manifest.json",
    ),
    "oversized secret key": (
        lambda m: a.replaced(m, "secret_key", a.plain("secret_key", b"k" * 2**20)),
        "at most 4096",
    ),
    "manifest that is not JSON": (
        lambda m: [*m[:-1], a.plain("manifest.json", b"\x00garbage")],
        "not valid JSON",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_doctored_archive_is_refused(
    case: str, good: Path, empty_target: Settings, tmp_path: Path
) -> None:
    edit, message = CASES[case]
    doctored = a.doctor(good, tmp_path / "doctored.tar", edit)
    _refused(empty_target, doctored, message)
    assert not (tmp_path / "escaped.txt").exists()
    assert not Path(ABSOLUTE).exists()


def test_a_member_claiming_more_bytes_than_the_disk_has_is_refused_before_reading(
    good: Path, empty_target: Settings, tmp_path: Path
) -> None:
    members = a.read_members(good)
    name = a.first_named(members, "files/images/")
    huge = tarfile.TarInfo(name)
    huge.size = 2**50  # a PAX header can claim any size; no data follows it
    out = tmp_path / "huge.tar"
    with out.open("wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in members:
            if info.name == name:
                raw.write(huge.tobuf(tarfile.PAX_FORMAT))
                break
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    _refused(empty_target, out, "bytes free")


def test_a_database_snapshot_altered_after_the_backup_is_refused(
    good: Path, empty_target: Settings, tmp_path: Path
) -> None:
    members = a.read_members(good)
    db = tmp_path / "snapshot.sqlite3"
    db.write_bytes(a.content(members, "database/curator.sqlite3"))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE categories SET name = 'renamed'")
    conn.close()
    edited = a.replaced(
        members, "database/curator.sqlite3", a.plain("database/curator.sqlite3", db.read_bytes())
    )
    _refused(empty_target, a.write_members(edited, tmp_path / "edited.tar"), "database snapshot")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.97])
def test_a_truncated_archive_is_refused(
    fraction: float, good: Path, empty_target: Settings, tmp_path: Path
) -> None:
    data = good.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: int(len(data) * fraction)])
    _refused(empty_target, cut, "truncated")


def test_a_truncated_gzip_archive_is_refused(
    good: Path, empty_target: Settings, tmp_path: Path
) -> None:
    packed = tmp_path / "good.tar.gz"
    with tarfile.open(packed, "w:gz") as out, tarfile.open(good) as src:
        for info in src.getmembers():
            out.addfile(info, src.extractfile(info))
    data = packed.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: len(data) // 2])
    _refused(empty_target, cut, "truncated")


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04 not a tar", bytes(range(256)) * 40])
def test_a_file_that_is_no_backup_is_refused(
    data: bytes, empty_target: Settings, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(data)
    _refused(empty_target, junk, "not a Curator backup|damaged or truncated")


def test_the_command_says_why_and_that_nothing_changed(good: Path, tmp_path: Path) -> None:
    doctored = a.doctor(good, tmp_path / "d.tar", CASES["tampered original"][0])
    data_dir = tmp_path / "data"
    done = cli(Settings(env="test", data_dir=data_dir), "restore", str(doctored))
    assert done.returncode == 1
    assert "does not match its row's sha256" in done.stderr
    assert "Nothing was changed." in done.stderr
    assert list(data_dir.iterdir()) == []


def test_a_good_archive_restores_into_the_same_kind_of_target(
    good: Path, empty_target: Settings, tmp_path: Path
) -> None:
    """The control: the undoctored archive is accepted by the same code path."""
    copy = shutil.copy(good, tmp_path / "copy.tar")
    result = restore(empty_target, Path(copy))
    assert result.files > 0
    assert (empty_target.data_dir / "curator.db").is_file()
