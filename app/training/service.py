"""Training runs: start, read, cancel. The worker's side is in ``jobs``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from celery import Celery
from sqlalchemy import BindParameter, ScalarSelect, Select, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.background.boxes import Box, register
from app.background.outbox import post
from app.config import Settings
from app.db import utcnow
from app.errors import Conflict, InvalidInput, NotFound
from app.projects.backbone_catalog import check_backbone
from app.projects.models import Project
from app.projects.service import get_managed_project, get_project
from app.task_names import QUEUE_OF, TRAIN
from app.training import dataset
from app.training.models import ACTIVE_STATUSES, RunMode, RunStatus, TrainingRun

log = logging.getLogger(__name__)
# Runs are an outbox: a queued run whose message did not leave is sent again.
RUNS = register(
    Box(TrainingRun, TRAIN, QUEUE_OF[TRAIN], lambda: TrainingRun.status == RunStatus.queued)
)


def run_dir(settings: Settings, run_id: int) -> Path:
    """Where a run's exported model files live."""
    return settings.data_dir / "models" / str(run_id)


def start_run(
    session: Session,
    celery: Celery,
    project: Project,
    user: User | None,
    *,
    mode: RunMode,
    level: int | None = None,
    backbone: str | None = None,
    params: dict[str, Any] | None = None,
    trigger: str = "manual",
    head: str | None = None,
) -> TrainingRun:
    """Check there is something to learn, then queue the run on the ``ml`` queue.

    ``head`` (linear mode) is checked by ``RunCreate``; None is logistic regression,
    which is also what a fine-tuned run's own linear layer is recorded as."""
    if project.archived:
        raise Conflict("The project is archived; restore it to train.")
    if mode is RunMode.finetune and head not in (None, "logreg"):
        raise InvalidInput(f"The {head} head is for the linear mode only.")
    if backbone is not None:
        check_backbone(session, backbone)
    data = dataset.build(session, project, level)
    dataset.check_trainable(data, level)
    run = TrainingRun(
        project_id=project.id,
        created_by_id=user.id if user is not None else None,
        trigger=trigger,
        mode=mode,
        level=level,
        backbone=backbone or project.backbone,
        head=head or "logreg",
        params=params or {},
        label_count=len(data.image_ids),
        last_annotation_id=data.last_annotation_id,
    )
    session.add(run)
    session.flush()
    post(session, celery, RUNS, run)  # outbox.queued_message(run) says if it could not leave
    return run


def get_run(session: Session, user: User, run_id: int) -> TrainingRun:
    run = session.get(TrainingRun, run_id)
    missing = f"No training run with id {run_id}."
    if run is None:
        raise NotFound(missing)
    # Someone outside the project gets the very same 404, which never names the project.
    get_project(session, user, run.project_id, missing=missing)
    return run


def run_in_project(
    session: Session, user: User, project_id: int, run_id: int
) -> tuple[Project, TrainingRun]:
    """The project (404 for outsiders) and its run; a run of another project is a 404 too."""
    project = get_project(session, user, project_id)
    run = session.get(TrainingRun, run_id)
    if run is None or run.project_id != project.id:
        raise NotFound(f"No training run with id {run_id}.")
    return project, run


def get_managed_run(session: Session, user: User, run_id: int) -> TrainingRun:
    """The run if the user manages its project: 404 for outsiders, 403 for its labelers."""
    run = get_run(session, user, run_id)
    get_managed_project(session, user, run.project_id)
    return run


def list_runs(session: Session, project: Project, limit: int = 50) -> list[TrainingRun]:
    return list(
        session.scalars(
            select(TrainingRun)
            .where(TrainingRun.project_id == project.id)
            .order_by(TrainingRun.id.desc())
            .limit(limit)
        )
    )


def has_active_run(session: Session, project_id: int) -> bool:
    return (
        session.scalar(
            select(TrainingRun.id)
            .where(TrainingRun.project_id == project_id, TrainingRun.status.in_(ACTIVE_STATUSES))
            .limit(1)
        )
        is not None
    )


def _latest_model_query(project_id: int | BindParameter[int]) -> Select[TrainingRun]:
    return (
        select(TrainingRun)
        .where(TrainingRun.project_id == project_id, TrainingRun.status == RunStatus.succeeded)
        .order_by(TrainingRun.finished_at.desc(), TrainingRun.id.desc())
        .limit(1)
    )


def latest_model(session: Session, project_id: int) -> TrainingRun | None:
    """The newest run that succeeded: the model behind suggestions and the queue."""
    return session.scalar(_latest_model_query(project_id))


def latest_models(session: Session, project_id: int, count: int) -> list[TrainingRun]:
    """The newest ``count`` runs that succeeded, newest first."""
    return list(session.scalars(_latest_model_query(project_id).limit(count)))


def measured_runs(session: Session, project_id: int, limit: int) -> list[TrainingRun]:
    """Succeeded runs that know their label count, fewest labels first: the learning curve."""
    return list(
        session.scalars(
            select(TrainingRun)
            .where(
                TrainingRun.project_id == project_id,
                TrainingRun.status == RunStatus.succeeded,
                TrainingRun.label_count.is_not(None),
            )
            .order_by(TrainingRun.label_count, TrainingRun.id)
            .limit(limit)
        )
    )


def latest_model_id(project_id: int | BindParameter[int]) -> ScalarSelect[int | None]:
    """``latest_model``'s id as a scalar subquery, to read along with other things."""
    query = _latest_model_query(project_id).with_only_columns(TrainingRun.id)
    return query.scalar_subquery()


def cancel_run(session: Session, run: TrainingRun) -> TrainingRun:
    """A queued run is cancelled at once; a running one stops at its next checkpoint."""
    if run.finished:
        raise Conflict(f"The run has already {run.status.value}; there is nothing to cancel.")
    run.cancel_requested = True
    if run.status is RunStatus.queued:
        _finish(run, RunStatus.cancelled)
    session.flush()
    return run


def _finish(run: TrainingRun, status: RunStatus, error: str | None = None) -> None:
    run.status = status
    run.error = error
    run.eta_seconds = None
    run.finished_at = utcnow()
    run.phase = "done" if status is RunStatus.succeeded else status.value
