"""Which files a database's rows name, and under which key each lives in the store.

Backup and restore use the same rules, so a restore accepts exactly what a backup of
the same rows would hold. Keys are the data dir's relative POSIX paths (app.blobs), so
on file:// they are where the files have always been.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, inspect, text

from app.blobs import BlobInfo, BlobStore
from app.images.storage import ImageStore
from app.ops.archive_format import ArchiveError

# workers.context keeps shards in <data_dir>/embeddings/<backbone>/ (app cannot import it).
EMBEDDINGS = "embeddings"
# app.training.service.run_dir: <data_dir>/models/<run id>/.
MODELS = "models"
_BACKBONE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_SHARD = re.compile(r"[A-Za-z0-9_\-]{1,64}\.npy")
_MODEL_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
_THUMB_MIMES = ("image/jpeg", "image/webp")
# Every folder a backup's files live in: what a restore installs and a --force clears.
CONTENT_DIRS = ("images", "thumbnails", "display", EMBEDDINGS, MODELS)


@dataclass
class NamedFiles:
    """What the rows of one snapshot name."""

    images: set[tuple[str, str]] = field(default_factory=set)  # (sha256, thumbnail mime)
    shards: set[tuple[str, str]] = field(default_factory=set)  # (backbone, shard file)
    run_ids: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Wanted:
    """The files a backup holds: required ones (with a sha256 when the row has one)."""

    required: dict[str, str | None]  # path -> the row's sha256 (originals) or None
    optional_exact: set[str]  # display copies: present for some formats only
    model_dirs: set[str]  # models/<run id>: any plain file directly inside


def read_named(conn: Connection) -> NamedFiles:
    named = NamedFiles()
    for sha, mime in conn.execute(text("SELECT DISTINCT sha256, thumbnail_mime FROM images")):
        named.images.add((str(sha), str(mime)))
    rows = conn.execute(
        text("SELECT DISTINCT backbone, shard FROM embeddings WHERE shard <> '' AND error IS NULL")
    )
    named.shards = {(str(b), str(s)) for b, s in rows}
    named.run_ids = {int(i) for (i,) in conn.execute(text("SELECT id FROM training_runs"))}
    return named


def table_counts(conn: Connection) -> dict[str, int]:
    preparer = conn.dialect.identifier_preparer
    counts: dict[str, int] = {}
    for table in sorted(inspect(conn).get_table_names()):
        quoted = preparer.quote(table)
        counts[table] = int(conn.execute(text(f"SELECT count(*) FROM {quoted}")).scalar_one())  # noqa: S608
    return counts


def alembic_revision(conn: Connection) -> str:
    revisions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(revisions) != 1:
        raise ArchiveError(f"the database has {len(revisions)} alembic revisions; expected one")
    return str(revisions[0])


def wanted(named: NamedFiles) -> Wanted:
    """The paths the rows name; a row that names an impossible path is refused."""
    root = Path("/data-dir")  # any absolute root: only the relative part is kept
    store = ImageStore(root)
    base = root.resolve()
    required: dict[str, str | None] = {}
    optional: set[str] = set()
    try:
        for sha, mime in sorted(named.images):
            if mime not in _THUMB_MIMES:
                raise ValueError(f"unknown thumbnail type {mime!r}")
            required[store.original_path(sha).relative_to(base).as_posix()] = sha
            required[store.thumbnail_path(sha, mime).relative_to(base).as_posix()] = None
            optional.add(store.display_path(sha).relative_to(base).as_posix())
    except ValueError as exc:
        raise ArchiveError(f"an image row is invalid: {exc}") from None
    for backbone, shard in sorted(named.shards):
        if not (_BACKBONE.fullmatch(backbone) and _SHARD.fullmatch(shard)):
            raise ArchiveError(f"an embedding row names an invalid shard {backbone!r}/{shard!r}")
        required[f"{EMBEDDINGS}/{backbone}/{shard}"] = None
    models = {f"{MODELS}/{run_id}" for run_id in named.run_ids}
    return Wanted(required, optional, models)


def accepts(want: Wanted, path: str) -> bool:
    """Whether a backup of these rows may hold ``path``."""
    if path in want.required or path in want.optional_exact:
        return True
    folder, _, name = path.rpartition("/")
    return folder in want.model_dirs and bool(_MODEL_FILE.fullmatch(name))


def present(store: BlobStore, want: Wanted) -> Iterable[tuple[str, BlobInfo | None, bool]]:
    """(key, blob, required) for every file to back up: required ones even if missing."""
    for rel in want.required:
        yield rel, store.info(rel), True
    for rel in sorted(want.optional_exact):
        info = store.info(rel)
        if info is not None:
            yield rel, info, False
    for folder in sorted(want.model_dirs, key=lambda f: int(f.rpartition("/")[2])):
        # A run that never finished has no files yet: the listing is empty.
        for info in sorted(store.list(folder + "/"), key=lambda i: i.key):
            name = info.key.removeprefix(folder + "/")
            if "/" in name or not _MODEL_FILE.fullmatch(name) or _is_link(store, info.key):
                continue
            yield info.key, info, False


def _is_link(store: BlobStore, key: str) -> bool:
    # On file:// a symbolic link could point anywhere on the machine: never followed.
    path = store.local_path(key)
    return path is not None and (path.is_symlink() or not path.is_file())
