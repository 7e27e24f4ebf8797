"""Import a folder on the server's disk: the engine of ``curator import``.

Files are read, hashed, decoded and stored by a pool of processes (the CPU part,
``ingest.prepare``); this process writes the rows in groups and commits each group, so
an interrupted import keeps what it did and a second run skips it (by content hash,
before decoding).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from app.blobs import StoreUnavailable, open_store
from app.config import Settings
from app.db import utcnow
from app.images.models import BatchStatus, ImportBatch
from app.images.storage import ImageStore
from app.imports import near_duplicates
from app.imports.archive import is_junk, is_labels_file, is_metadata
from app.imports.decode import too_large
from app.imports.ingest import Failed, LabelPath, Limits, Outcome, folder_label, prepare
from app.imports.recorder import Recorder, Summary
from app.imports.uploads import add_categories, finish, known_hashes
from app.projects.models import Project

GROUP = 64  # rows per commit: progress survives an interruption, commits stay cheap


@dataclass(frozen=True)
class _Job:
    store: ImageStore
    limits: Limits
    known: frozenset[str]


_job: _Job | None = None  # set in each pool process by _init


def _init(job: _Job) -> None:
    global _job
    _job = job


def _prepare_path(item: tuple[str, str]) -> Outcome:
    path, name = item
    if _job is None:  # pragma: no cover - _init always runs first
        raise RuntimeError("worker not initialised")
    try:
        size = os.path.getsize(path)
        if size > _job.limits.decode.max_bytes:
            return Failed(name, too_large(size, _job.limits.decode.max_bytes))
        data = Path(path).read_bytes()
    except OSError as exc:
        return Failed(name, f"cannot be read: {exc.strerror or exc}")
    return prepare(name, data, _job.store, _job.limits.decode, _job.known)


def scan(directory: Path) -> list[tuple[str, str]]:
    """Every image file under ``directory`` as (path, name relative to it), stably ordered.

    Hidden files and folders are skipped, and symlinked folders are not followed (they
    can loop). So are what a zip upload skips: OS junk, an export's manifest.json, and
    an unpacked export's labels files (`labels_files`), so an export imports with no
    errors.
    """
    sidecars = {p.name for p in labels_files(directory)}
    found: list[tuple[str, str]] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            rel = path.relative_to(directory).as_posix()
            if name.startswith(".") or is_junk(rel) or is_metadata(rel) or rel in sidecars:
                continue
            found.append((str(path), rel))
    return found


def labels_files(directory: Path) -> list[Path]:
    """An unpacked export's labels files: labels.csv or a COCO json beside its manifest.

    Only beside our manifest.json: any other folder's stray .json (a package.json, say)
    is not taken for labels, and stays an error of its own like any file that is no image.
    """
    if not (directory / "manifest.json").is_file():
        return []
    return sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and not p.is_symlink() and is_labels_file(p.name)
    )


def _outcomes(items: list[tuple[str, str]], job: _Job, workers: int) -> Iterator[Outcome]:
    if workers <= 1:
        _init(job)
        yield from map(_prepare_path, items)
        return
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(job,)) as pool:
        yield from pool.map(_prepare_path, items, chunksize=8)


def import_folder(
    sessions: sessionmaker[Session],
    settings: Settings,
    project_id: int,
    user_id: int | None,
    directory: Path,
    *,
    labels_from_folders: bool = False,
    workers: int = 1,
    on_start: Callable[[int], None] = lambda total: None,
    on_progress: Callable[[int], None] = lambda done: None,
    celery: Celery | None = None,
) -> tuple[ImportBatch, Summary]:
    items = scan(directory)
    on_start(len(items))
    with sessions() as session:
        project = session.get_one(Project, project_id)
        batch = ImportBatch(
            project_id=project_id,
            created_by_id=user_id,
            source="cli",
            name=str(directory)[:300],
            labels_from_folders=labels_from_folders,
            status=BatchStatus.running,
            total=len(items),
        )
        session.add(batch)
        categories: dict[LabelPath, int | str] = {}
        if labels_from_folders:
            add_categories(session, project, categories, [name for _, name in items])
        session.commit()
        job = _Job(ImageStore(open_store(settings)), Limits.from_settings(settings),
                   frozenset(known_hashes(session, project_id)))  # fmt: skip
        recorder = Recorder(session, batch, user_id, categories)
        summary = Summary()
        group: list[tuple[Outcome, LabelPath | None]] = []
        try:
            for outcome in _outcomes(items, job, workers):
                label = folder_label(outcome.name) if labels_from_folders else None
                group.append((outcome, label))
                if len(group) == GROUP:
                    summary.extend(recorder.record(group))
                    session.commit()
                    on_progress(len(group))
                    group = []
        except StoreUnavailable as exc:
            # The groups committed so far name files that are in the store; this one is
            # dropped, and the import says why it stopped. Running it again resumes.
            session.rollback()
            batch.status, batch.error = BatchStatus.failed, str(exc)[:2000]
            batch.finished_at = utcnow()
            session.commit()
            raise
        summary.extend(recorder.record(group))
        on_progress(len(group))
        near_duplicates.group_new_images(session, project_id, settings.near_duplicate_distance)
        finish(session, batch, celery)
        session.commit()
        return batch, summary
