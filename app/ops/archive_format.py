"""The backup archive: a tar (gzip when the name ends in .gz or .tgz) laid out as

    header.json                    format, dialect, alembic revision, counts (first)
    database/curator.sqlite3       the snapshot (SQLite), or
    database/curator.pgdump        pg_dump's custom format (PostgreSQL)
    secret_key                     the data dir's signing key, when it has one
    files/<path in the data dir>   every file the snapshot's rows name
    manifest.json                  the header again, with size and sha256 of every member (last)

Why tar: members are written from file objects of known size (nothing is held in
memory), it can be read front to back from a stream, and the header comes first so a
restore refuses a wrong archive before it writes anything. The hashes go last because
they are computed while the files stream in.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

FORMAT = "curator-backup"
VERSION = 1
HEADER = "header.json"
MANIFEST = "manifest.json"
SECRET_KEY = "secret_key"  # noqa: S105 - a member name, not a secret
FILES = "files/"
DATABASE = {"sqlite": "database/curator.sqlite3", "postgresql": "database/curator.pgdump"}
DIALECTS = tuple(DATABASE)

# Read whole into memory, so they are kept small; a manifest lists ~150 bytes per file.
MAX_JSON_BYTES = 512 * 2**20
MAX_SECRET_BYTES = 4096
MAX_NAME = 1024
_NAME_CHARS = re.compile(r"[A-Za-z0-9_.\-/]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ArchiveError(Exception):
    """The archive is refused; the message says why, in words an operator can act on."""


def tar_mode(path: Path, writing: bool) -> str:
    if writing:
        return "w:gz" if path.name.endswith((".gz", ".tgz")) else "w"
    return "r|*"  # a stream, compression detected: one pass, no seeking


def check_member_name(name: str) -> str:
    """Refuse names that could point anywhere but below the staging folder."""
    path = PurePosixPath(name)
    if not name or len(name) > MAX_NAME or not _NAME_CHARS.fullmatch(name):
        raise ArchiveError(f"member {name[:200]!r} has a name a Curator backup never holds")
    if path.is_absolute() or name.startswith("/"):
        raise ArchiveError(f"member {name!r} has an absolute path")
    if any(part in ("..", ".", "") for part in name.split("/")):
        raise ArchiveError(f"member {name!r} has a path with '..' or empty parts")
    return name


@dataclass(frozen=True)
class Entry:
    size: int
    sha256: str


@dataclass
class Header:
    dialect: str
    alembic_revision: str
    created_at: str
    file_count: int  # members under files/ (at most; a model folder may vanish meanwhile)
    tables: dict[str, int] = field(default_factory=dict)  # rows per table in the snapshot
    format: str = FORMAT
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Manifest:
    header: Header
    database: Entry
    secret_key: Entry | None
    files: dict[str, Entry]

    def to_json(self) -> dict[str, Any]:
        return {
            **self.header.to_json(),
            "database": asdict(self.database),
            "secret_key": asdict(self.secret_key) if self.secret_key else None,
            "files": {name: asdict(e) for name, e in self.files.items()},
        }


def _load(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchiveError(f"{what} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ArchiveError(f"{what} is not a JSON object")
    return value


def _typed(value: dict[str, Any], key: str, kind: type, what: str) -> Any:
    item = value.get(key)
    if not isinstance(item, kind) or (kind is int and isinstance(item, bool)):
        raise ArchiveError(f"{what}: {key!r} is missing or not a {kind.__name__}")
    return item


def parse_header(data: bytes, what: str = HEADER) -> Header:
    value = _load(data, what)
    if value.get("format") != FORMAT:
        raise ArchiveError(f"{what} does not describe a Curator backup")
    if value.get("version") != VERSION:
        raise ArchiveError(
            f"backup format version {value.get('version')!r}; this Curator reads version "
            f"{VERSION}. Restore it with the Curator version that wrote it."
        )
    dialect = _typed(value, "dialect", str, what)
    if dialect not in DIALECTS:
        raise ArchiveError(f"{what}: unknown database dialect {dialect!r}")
    tables = _typed(value, "tables", dict, what)
    if not all(isinstance(k, str) and type(v) is int for k, v in tables.items()):
        raise ArchiveError(f"{what}: 'tables' must map table names to row counts")
    return Header(
        dialect=dialect,
        alembic_revision=_typed(value, "alembic_revision", str, what),
        created_at=_typed(value, "created_at", str, what),
        file_count=_typed(value, "file_count", int, what),
        tables=tables,
    )


def _entry(value: object, what: str) -> Entry:
    if not isinstance(value, dict):
        raise ArchiveError(f"{what} is not an object with size and sha256")
    size, sha = value.get("size"), value.get("sha256")
    if type(size) is not int or size < 0 or not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise ArchiveError(f"{what} needs an integer size and a sha256 hex digest")
    return Entry(size, sha)


def parse_manifest(data: bytes) -> Manifest:
    header = parse_header(data, MANIFEST)
    value = _load(data, MANIFEST)
    files = value.get("files")
    if not isinstance(files, dict):
        raise ArchiveError(f"{MANIFEST}: 'files' is missing")
    secret = value.get("secret_key")
    return Manifest(
        header=header,
        database=_entry(value.get("database"), f"{MANIFEST}: database"),
        secret_key=None if secret is None else _entry(secret, f"{MANIFEST}: secret_key"),
        files={str(k): _entry(v, f"{MANIFEST}: {k}") for k, v in files.items()},
    )
