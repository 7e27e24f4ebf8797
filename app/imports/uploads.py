"""Imports that start from uploaded files: answered at once, or handed to a background job.

Small uploads are imported inside the request and answer with their summary. Larger
ones (more files than ``sync_import_max_files``, counting the entries of zips) are
copied to a staging folder in the data dir and imported by the ``ingest`` queue's
workers (app.imports.jobs); the request returns at once with the job's row.
"""

from __future__ import annotations

import itertools
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from celery import Celery
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.background.boxes import Box, register
from app.background.outbox import post
from app.blobs import open_store
from app.config import Settings
from app.db import utcnow
from app.errors import Conflict
from app.images.models import BatchStatus, Image, ImportBatch
from app.images.storage import ImageStore
from app.imports import near_duplicates, staging
from app.imports.archive import is_zip
from app.imports.ingest import Failed, LabelPath, Limits, Outcome, expand, folder_label, prepare
from app.imports.recorder import Recorder, Summary
from app.imports.upload_labels import UploadLabels
from app.projects.models import Project
from app.task_names import EMBED, IMPORT_PLAN, QUEUE_OF
from app.tasks import enqueue_after_commit
from app.taxonomy.transfer import ensure_paths

# Background imports are an outbox: a queued job whose message did not leave is sent again.
IMPORTS = register(
    Box(
        ImportBatch,
        IMPORT_PLAN,
        QUEUE_OF[IMPORT_PLAN],
        lambda: (ImportBatch.status == BatchStatus.queued) & (ImportBatch.source == "job"),
    )
)
_GROUP = 64  # files recorded per flush: bounds the memory a zip's entries can take


@dataclass(frozen=True)
class Upload:
    filename: str
    file: BinaryIO  # seekable


def staging_dir(settings: Settings, batch_id: int) -> Path:
    return settings.data_dir.resolve() / "staging" / str(batch_id)


def count_files(uploads: Sequence[Upload]) -> int:
    """Files in the upload, counting each entry of a zip, read from its directory only."""
    total = 0
    for upload in uploads:
        head = upload.file.read(4)
        upload.file.seek(0)
        if not is_zip(head):
            total += 1
            continue
        try:
            with zipfile.ZipFile(upload.file) as archive:
                total += len(archive.infolist())
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            total += 1  # a corrupt zip: one error, reported by the import
        upload.file.seek(0)
    return total


def batch_name(uploads: Sequence[Upload]) -> str:
    first = uploads[0].filename if uploads else "upload"
    more = f" and {len(uploads) - 1} more" if len(uploads) > 1 else ""
    return f"{first}{more}"[:300]


def _new_batch(
    session: Session,
    project: Project,
    user_id: int,
    uploads: Sequence[Upload],
    labels_from_folders: bool,
    *,
    background: bool,
) -> ImportBatch:
    if project.archived:
        raise Conflict("The project is archived; restore it to import images.")
    batch = ImportBatch(
        project_id=project.id,
        created_by_id=user_id,
        source="job" if background else "upload",
        name=batch_name(uploads),
        labels_from_folders=labels_from_folders,
        status=BatchStatus.queued if background else BatchStatus.running,
    )
    session.add(batch)
    session.flush()
    return batch


def import_now(
    session: Session,
    settings: Settings,
    project: Project,
    user_id: int,
    uploads: Sequence[Upload],
    *,
    labels_from_folders: bool = False,
    celery: Celery | None = None,
) -> tuple[ImportBatch, Summary]:
    """Import in this transaction; one bad file never stops the others."""
    batch = _new_batch(session, project, user_id, uploads, labels_from_folders, background=False)
    store = ImageStore(open_store(settings))
    limits = Limits.from_settings(settings)
    summary = Summary()
    categories: dict[LabelPath, int | str] = {}
    recorder = Recorder(session, batch, user_id, categories)
    known = known_hashes(session, project.id)
    for upload in uploads:
        labels = UploadLabels.read(
            upload.filename, upload.file, limits.archive, labels_from_folders
        )
        summary.extend(record_failures(recorder, labels.errors))
        entries = expand(upload.filename, upload.file, limits)
        # In groups, so that only one group of decoded files is held at a time.
        while group := list(itertools.islice(entries, _GROUP)):
            items: list[tuple[Outcome, LabelPath | None]] = []
            for e in group:
                if isinstance(e, Failed):
                    items.append((e, None))
                    continue
                outcome = prepare(e.name, e.data, store, limits.decode, known)
                label = (
                    None if isinstance(outcome, Failed) else labels.label(e.name, outcome.sha256)
                )
                items.append((outcome, label))
            add_paths(session, project, categories, [label for _, label in items])
            summary.extend(recorder.record(items))
        summary.extend(record_failures(recorder, labels.leftovers()))
    near_duplicates.group_new_images(session, project.id, settings.near_duplicate_distance)
    finish(session, batch, celery)
    return batch, summary


def record_failures(recorder: Recorder, failures: Sequence[Failed]) -> Summary:
    """Errors that are no file of the upload: a labels file's bad rows."""
    return recorder.record([(f, None) for f in failures]) if failures else Summary()


def known_hashes(session: Session, project_id: int) -> set[str]:
    """The project's content hashes: files with these are duplicates, never decoded."""
    return set(session.scalars(select(Image.sha256).where(Image.project_id == project_id)))


def add_categories(
    session: Session, project: Project, categories: dict[LabelPath, int | str], names: list[str]
) -> None:
    """Resolve (creating where missing) the folder categories of these files not yet seen."""
    add_paths(session, project, categories, [folder_label(name) for name in names])


def add_paths(
    session: Session,
    project: Project,
    categories: dict[LabelPath, int | str],
    paths: Sequence[LabelPath | None],
) -> None:
    """Resolve (creating where missing) the categories of these paths not yet seen."""
    new = {p for p in paths if p and p not in categories}
    if new:
        categories.update(ensure_paths(session, project, new))


def finish(session: Session, batch: ImportBatch, celery: Celery | None = None) -> None:
    """Mark the import done; new images are then embedded on the ``ml`` queue."""
    session.refresh(batch)  # the recorder's counters are SQL increments
    batch.status = BatchStatus.succeeded
    batch.total = batch.processed
    batch.finished_at = utcnow()
    session.flush()
    if celery is not None and batch.imported:
        enqueue_after_commit(session, celery, EMBED, queue=QUEUE_OF[EMBED], args=[batch.project_id])


def start_job(
    session: Session,
    settings: Settings,
    celery: Celery,
    project: Project,
    user_id: int,
    uploads: Sequence[Upload],
    *,
    labels_from_folders: bool = False,
) -> ImportBatch:
    """Stage the upload in the data dir and queue its import; returns the job's row."""
    batch = _new_batch(session, project, user_id, uploads, labels_from_folders, background=True)
    store = open_store(settings)
    names = []
    try:
        for n, upload in enumerate(uploads):
            # Staged under a number: the user's filename never becomes a path.
            staging.stage(store, batch.id, f"upload-{n}", upload.file)
            names.append(upload.filename)
        store.put_bytes(staging.key(batch.id, "uploads.json"), json.dumps(names).encode())
    except BaseException:
        staging.clear(store, batch.id)
        raise
    post(session, celery, IMPORTS, batch)  # outbox.queued_message(batch): if it could not leave
    return batch
