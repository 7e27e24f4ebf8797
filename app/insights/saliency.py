"""Saliency maps on request: the cache, and the job that fills it.

A map is made once per run, image and class, by a worker (the web never loads a model),
and kept as a PNG in the blob store under ``saliency/<run id>/`` (``map_key``). The
first request files a row and sends the task after the commit; until the PNG exists,
requests answer "not yet" and send nothing more, except to recover:

- the message did not leave (the broker is down): the row is an outbox entry; the web's
  dispatcher thread sends it when the broker answers, and so does the next request;
- the message left but nobody took it within ``dispatch_timeout``: the next request
  sends it again;
- the worker died mid-map (killed, crashed): its claim is stale once its process is
  gone or ``job_stale_after`` has passed, and the next request queues the map again;
- the PNG went missing (a restore, a hand clean-up): the next request makes it again.

A map whose computation failed says why, for good: asking again does not loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from celery import Celery
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.models import User
from app.background.boxes import Box, register
from app.background.outbox import post
from app.background.owners import Liveness, Workers
from app.blobs import BlobStore, open_store
from app.config import Settings
from app.db import utcnow
from app.errors import Conflict, InvalidInput, NotFound
from app.images import service as images
from app.images.models import Image
from app.insights.models import PREDICTED_CLASS, SaliencyMap, SaliencyStatus
from app.task_names import QUEUE_OF, SALIENCY
from app.training import predictions
from app.training.download import model_prefix
from app.training.models import RunStatus, TrainingRun
from app.training.service import latest_model

SALIENCY_MAPS = register(
    Box(SaliencyMap, SALIENCY, QUEUE_OF[SALIENCY], lambda: SaliencyMap.status == "queued")
)
RETRY_AFTER = 1  # seconds: a map takes well under one once a worker has it
# A run's model files are written just after it succeeds; until then "not yet", after
# this long "they are missing".
EXPORT_GRACE = timedelta(minutes=15)
MODEL_FILE = "model.pt"


def map_key(run_id: int, image_id: int, category_id: int) -> str:
    return f"saliency/{run_id}/{image_id}-{category_id}.png"


def model_key(run_id: int) -> str:
    return f"{model_prefix(run_id)}/{MODEL_FILE}"


def map_path(settings: Settings, run_id: int, image_id: int, category_id: int) -> Path:
    """The map's file on a file:// store (the data dir's layout)."""
    return settings.data_dir / map_key(run_id, image_id, category_id)


@dataclass(frozen=True)
class Answer:
    """A ready map (``key`` in ``store``), or why to ask again shortly (``status``)."""

    status: str  # "done", "queued", "running", or "waiting" (for the model files)
    key: str | None = None
    store: BlobStore | None = None
    category_id: int | None = None  # the class the map explains, when done
    run_id: int | None = None
    detail: str = ""


def run_for_image(session: Session, image: Image, run_id: int | None) -> TrainingRun:
    """The asked run (or the latest succeeded one) of the image's project."""
    if run_id is None:
        run = latest_model(session, image.project_id)
        if run is None:
            raise NotFound("This project has no trained model yet.")
        return run
    run = session.get(TrainingRun, run_id)
    if run is None or run.project_id != image.project_id:
        raise NotFound(f"No training run with id {run_id}.")
    if run.status is not RunStatus.succeeded:
        raise Conflict(f"Training run {run_id} is {run.status.value}, not a trained model.")
    return run


def target_class(session: Session, run: TrainingRun, image_id: int, asked: int | None) -> int:
    """The category to explain: the asked one (one of the run's classes), else the run's
    stored prediction, else PREDICTED_CLASS for the worker to resolve."""
    classes = {int(cid) for cid, _ in run.classes or []}
    if asked is not None:
        if asked not in classes:
            raise InvalidInput(f"Category {asked} is not one of training run {run.id}'s classes.")
        return asked
    stored = predictions.for_image(session, run.id, image_id)
    return stored.category_id if stored is not None else PREDICTED_CLASS


def request_map(
    session: Session,
    celery: Celery,
    settings: Settings,
    user: User,
    image_id: int,
    run_id: int | None = None,
    category_id: int | None = None,
) -> Answer:
    _project, image = images.get_image(session, user, image_id)
    run = run_for_image(session, image, run_id)
    target = target_class(session, run, image.id, category_id)
    store = open_store(settings)
    if store.info(model_key(run.id)) is None:
        finished = run.finished_at or run.created_at
        if utcnow() - finished < EXPORT_GRACE:
            return Answer("waiting", run_id=run.id, detail="The model files are being written.")
        raise Conflict(
            f"Training run {run.id} has no model files (their export failed or they were "
            "deleted); train again to see saliency maps."
        )
    row = _find(session, run.id, image.id, target)
    if row is None:
        row = _file(session, run.id, image.id, target)
        if row.status is SaliencyStatus.queued and row.dispatched_at is None:
            post(session, celery, SALIENCY_MAPS, row)
    else:
        _recover(session, celery, settings, store, row)
    return _answer(store, row)


def _find(session: Session, run_id: int, image_id: int, target: int) -> SaliencyMap | None:
    return session.scalars(
        select(SaliencyMap).where(
            SaliencyMap.run_id == run_id,
            SaliencyMap.image_id == image_id,
            SaliencyMap.category_id == target,
        )
    ).one_or_none()


def _file(session: Session, run_id: int, image_id: int, target: int) -> SaliencyMap:
    """A new queued row; if a concurrent request filed it first, that one."""
    try:
        with session.begin_nested():
            row = SaliencyMap(run_id=run_id, image_id=image_id, category_id=target)
            session.add(row)
        return row
    except IntegrityError:
        found = _find(session, run_id, image_id, target)
        if found is None:
            raise
        return found


def _recover(
    session: Session, celery: Celery, settings: Settings, store: BlobStore, row: SaliencyMap
) -> None:
    """Send again or queue again what will not finish by itself (see the module doc)."""
    now = utcnow()
    if row.status is SaliencyStatus.done:
        if store.info(map_key(row.run_id, row.image_id, row.category_id)) is not None:
            return
    elif row.status is SaliencyStatus.queued:
        sent = row.dispatched_at
        if sent is not None and now - sent < timedelta(seconds=settings.dispatch_timeout):
            return
    elif row.status is SaliencyStatus.running:
        if not _owner_gone(session, row, settings.job_stale_after):
            return
    else:
        return  # failed: the error stands
    row.status = SaliencyStatus.queued
    row.shown_category_id = None
    row.started_at = None
    post(session, celery, SALIENCY_MAPS, row)


def _owner_gone(session: Session, row: SaliencyMap, stale_after: int) -> bool:
    started = row.started_at
    if started is None or utcnow() - started > timedelta(seconds=stale_after):
        return True
    workers = Workers.load(session, stale_after)
    return workers.liveness(row.owner_host, row.owner_pid, row.owner_boot) is Liveness.dead


def _answer(store: BlobStore, row: SaliencyMap) -> Answer:
    if row.status is SaliencyStatus.failed:
        raise Conflict(f"The saliency map could not be made: {row.error or 'unknown error'}")
    if row.status is SaliencyStatus.done:
        key = map_key(row.run_id, row.image_id, row.category_id)
        return Answer(
            "done", key=key, store=store, category_id=row.shown_category_id, run_id=row.run_id
        )
    detail = "The map is being made." if row.status is SaliencyStatus.running else "Queued."
    return Answer(row.status.value, run_id=row.run_id, detail=detail)
