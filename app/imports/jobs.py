"""Background imports on the ``ingest`` queue: plan, then chunks, then finish.

``plan`` expands the staged upload (zips included) into one file per entry, creates
the folder categories, and queues one ``chunk`` task per ``CHUNK`` files, so every
worker process on the queue shares the job. Each chunk records its files and adds to
the job's counters; the chunk that completes the count finishes the job (near-duplicate
grouping, status, staging removed). Every step is safe to run twice: stored content is
addressed by hash and rows are inserted only once per project and hash.

While a plan or a chunk runs, a thread writes the job's heartbeat and names the process
as its owner. A job whose heartbeat stopped and whose owner is gone is marked failed by
the workers' reaper (``reap``); running the import again skips what is already in. One
whose owner is alive is only waiting for it (say, behind a training run on the same
worker) and is left alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from celery import Celery
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.background.heartbeat import Heartbeat
from app.background.owners import Liveness, Owner, Workers
from app.blobs import open_store
from app.config import Settings
from app.db import utcnow
from app.images.models import BatchStatus, Image, ImportBatch
from app.images.storage import ImageStore
from app.imports import near_duplicates, staging
from app.imports.ingest import (
    Entry,
    Failed,
    LabelPath,
    Limits,
    Outcome,
    expand,
    folder_label,
    prepare,
)
from app.imports.recorder import Recorder
from app.imports.upload_labels import UploadLabels
from app.imports.uploads import add_paths, finish
from app.projects.models import Project

CHUNK = 48  # files per chunk task: small enough to spread, large enough to amortise
STOPPED = (
    "The worker stopped responding while running this import (it was killed or crashed). "
    "Import the same files again: what is already in is skipped."
)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    settings: Settings
    sessions: sessionmaker[Session]
    send_chunk: Callable[[int, int, int], None]  # (batch id, start, stop)
    celery: Celery | None = None  # queues the embedding of the new images


def _claim(session: Session, batch_id: int, owner: Owner, task_id: str | None) -> bool:
    values = {"status": BatchStatus.running, "heartbeat_at": utcnow(), **owner.values()}
    if task_id:
        values["task_id"] = task_id
    result = session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch_id, ImportBatch.status == BatchStatus.queued)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(getattr(result, "rowcount", 0))


def beat(sessions: sessionmaker[Session], batch_id: int, owner: Owner) -> bool:
    """The heartbeat of a running job, from the process working on it now (its owner)."""
    with sessions() as session:
        result = session.execute(
            update(ImportBatch)
            .where(ImportBatch.id == batch_id, ImportBatch.status == BatchStatus.running)
            .values(heartbeat_at=utcnow(), **owner.values())
            .execution_options(synchronize_session=False)
        )
        session.commit()
        return bool(getattr(result, "rowcount", 0))


def _heartbeat(ctx: JobContext, batch_id: int, owner: Owner) -> Heartbeat:
    return Heartbeat(
        lambda: beat(ctx.sessions, batch_id, owner),
        ctx.settings.job_heartbeat_interval,
        name=f"import-{batch_id}-heartbeat",
    )


def plan(ctx: JobContext, batch_id: int, owner: Owner, task_id: str | None = None) -> None:
    with ctx.sessions() as session:
        if not _claim(session, batch_id, owner, task_id):
            return  # gone, or already planned by an earlier delivery of this task
        batch = session.get_one(ImportBatch, batch_id)
        try:
            with _heartbeat(ctx, batch_id, owner):
                items = _expand_staged(ctx, session, batch)
        except Exception as exc:
            session.rollback()
            fail(ctx, batch_id, f"The import could not start: {exc}")
            raise
        session.commit()
    if not items:
        _finish_if_done(ctx, batch_id)
    for start in range(0, items, CHUNK):
        ctx.send_chunk(batch_id, start, min(start + CHUNK, items))


def _expand_staged(ctx: JobContext, session: Session, batch: ImportBatch) -> int:
    """Write each entry of the upload to its own staged file; returns how many."""
    store = open_store(ctx.settings)
    names: list[str] = json.loads(store.get_bytes(staging.key(batch.id, "uploads.json")))
    limits = Limits.from_settings(ctx.settings)
    project = session.get_one(Project, batch.project_id)
    recorder = Recorder(session, batch, batch.created_by_id)
    categories: dict[LabelPath, int | str] = {}
    plan_items: list[tuple[str, str]] = []
    plan_labels: list[LabelPath | None] = []  # decided here: a zip's labels file comes last
    failed: list[tuple[Outcome, LabelPath | None]] = []
    for n, name in enumerate(names):
        with staging.opened(store, batch.id, f"upload-{n}") as upload:
            labels = UploadLabels.read(name, upload, limits.archive, batch.labels_from_folders)
            failed += [(f, None) for f in labels.errors]
            for entry in expand(name, upload, limits):
                if isinstance(entry, Failed):
                    failed.append((entry, None))
                    continue
                staged = f"item-{len(plan_items)}"
                store.put_bytes(staging.key(batch.id, staged), entry.data)
                plan_items.append((staged, entry.name))
                sha256 = hashlib.sha256(entry.data).hexdigest()
                plan_labels.append(labels.label(entry.name, sha256))
            failed += [(f, None) for f in labels.leftovers()]
        store.delete(staging.key(batch.id, f"upload-{n}"))  # its entries are staged
    add_paths(session, project, categories, plan_labels)
    recorder.record(failed)
    batch.total = len(plan_items) + len(failed)
    store.put_bytes(
        staging.key(batch.id, "plan.json"),
        json.dumps(
            {
                "items": plan_items,
                "labels": [list(p) if p else None for p in plan_labels],
                "categories": [[list(k), v] for k, v in categories.items()],
            }
        ).encode(),
    )
    return len(plan_items)


def chunk(ctx: JobContext, batch_id: int, start: int, stop: int, owner: Owner) -> None:
    with ctx.sessions() as session, _heartbeat(ctx, batch_id, owner):
        batch = session.get(ImportBatch, batch_id)
        if batch is None or batch.status is not BatchStatus.running:
            return
        blobs = open_store(ctx.settings)
        planned = json.loads(blobs.get_bytes(staging.key(batch_id, "plan.json")))
        categories = {tuple(k): v for k, v in planned["categories"]}
        entries = [
            Entry(name, blobs.get_bytes(staging.key(batch_id, staged)))
            for staged, name in planned["items"][start:stop]
        ]
        limits = Limits.from_settings(ctx.settings)
        store = ImageStore(blobs)
        hashes = [hashlib.sha256(e.data).hexdigest() for e in entries]
        known = set(
            session.scalars(
                select(Image.sha256).where(
                    Image.project_id == batch.project_id, Image.sha256.in_(hashes)
                )
            )
        )
        labels: list[LabelPath | None]
        if "labels" in planned:
            labels = [tuple(p) if p else None for p in planned["labels"][start:stop]]
        else:  # planned before plans held labels: the folders' labels, as then
            labels = [folder_label(e.name) if batch.labels_from_folders else None for e in entries]
        outcomes: list[tuple[Outcome, LabelPath | None]] = [
            (prepare(e.name, e.data, store, limits.decode, known), label)
            for e, label in zip(entries, labels, strict=True)
        ]
        Recorder(session, batch, batch.created_by_id, categories).record(outcomes)
        session.commit()
    _finish_if_done(ctx, batch_id)


def _finish_if_done(ctx: JobContext, batch_id: int) -> None:
    with ctx.sessions() as session:
        # The row lock (PostgreSQL) or the write lock (SQLite) makes exactly one chunk
        # see the last count and finish.
        batch = session.scalars(
            select(ImportBatch).where(ImportBatch.id == batch_id).with_for_update()
        ).one_or_none()
        if batch is None or batch.status is not BatchStatus.running:
            return
        if batch.total is None or batch.processed < batch.total:
            return
        near_duplicates.group_new_images(
            session, batch.project_id, ctx.settings.near_duplicate_distance
        )
        finish(session, batch, ctx.celery)
        session.commit()
    staging.clear(open_store(ctx.settings), batch_id)


def fail(ctx: JobContext, batch_id: int, error: str) -> None:
    with ctx.sessions() as session:
        session.execute(
            update(ImportBatch)
            .where(ImportBatch.id == batch_id, ImportBatch.status.in_(_ACTIVE))
            .values(status=BatchStatus.failed, error=error[:2000], finished_at=utcnow())
        )
        session.commit()
    staging.clear(open_store(ctx.settings), batch_id)


_ACTIVE = (BatchStatus.queued, BatchStatus.running)


def describe(exc: BaseException) -> str:
    """A readable one-line error for the job's page; the traceback goes to the log."""
    log.error("import job failed:\n%s", "".join(traceback.format_exception(exc)))
    return f"{type(exc).__name__}: {exc}"


def reap(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Mark failed the running jobs whose heartbeat stopped and whose owner is gone."""
    stale_after = settings.job_stale_after
    with sessions() as session:
        stale = session.execute(
            select(
                ImportBatch.id,
                ImportBatch.heartbeat_at,
                ImportBatch.owner_host,
                ImportBatch.owner_pid,
                ImportBatch.owner_boot,
            ).where(
                ImportBatch.status == BatchStatus.running,
                ImportBatch.source == "job",
                ImportBatch.heartbeat_at < utcnow() - timedelta(seconds=stale_after),
            )
        ).all()
        if not stale:
            return 0
        workers = Workers.load(session, stale_after)
        reaped = []
        for batch_id, heartbeat_at, host, pid, boot in stale:
            if workers.liveness(host, pid, boot) is Liveness.alive:
                continue  # its chunks wait for a busy worker
            result = session.execute(
                update(ImportBatch)
                .where(
                    ImportBatch.id == batch_id,
                    ImportBatch.status == BatchStatus.running,
                    ImportBatch.heartbeat_at == heartbeat_at,
                )
                .values(status=BatchStatus.failed, error=STOPPED, finished_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0):
                reaped.append(batch_id)
        session.commit()
    for batch_id in reaped:
        staging.clear(open_store(settings), batch_id)
    return len(reaped)
