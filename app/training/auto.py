"""Auto-train: queue a linear run after every N new labels, one run at a time."""

from __future__ import annotations

from datetime import datetime

from celery import Celery
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import DomainError
from app.labeling.models import Annotation
from app.projects.models import Project
from app.training import service
from app.training.models import RunMode, TrainingRun

# (project id, created) -> the newest annotation when a run was last refused (too few classes):
# the next attempt waits for another N labels instead of re-reading the labels on every
# annotation. Per process, so at worst each web process tries once more.
_refused_at: dict[tuple[int, datetime], int] = {}


def new_labels_since(session: Session, project: Project, after: int, cap: int) -> int:
    """Annotations newer than ``after``, counted up to ``cap`` (cheap)."""
    recent = (
        select(Annotation.id)
        .where(Annotation.project_id == project.id, Annotation.id > after)
        .limit(cap)
        .subquery()
    )
    return session.scalar(select(func.count()).select_from(recent)) or 0


def maybe_train(session: Session, celery: Celery, project: Project) -> TrainingRun | None:
    """Queue a run if N labels arrived since the last one and none is queued or running."""
    every = project.auto_train_every
    if every <= 0 or project.archived or service.has_active_run(session, project.id):
        return None
    seen = session.scalar(
        select(func.max(TrainingRun.last_annotation_id)).where(TrainingRun.project_id == project.id)
    )
    after = max(seen or 0, _refused_at.get((project.id, project.created_at), 0))
    if new_labels_since(session, project, after, every) < every:
        return None
    try:
        return service.start_run(
            session, celery, project, None, mode=RunMode.linear, trigger="auto"
        )
    except DomainError:
        # Not trainable yet (too few classes); try again after another N labels.
        newest = session.scalar(
            select(func.max(Annotation.id)).where(Annotation.project_id == project.id)
        )
        _refused_at[(project.id, project.created_at)] = newest or 0
        return None
