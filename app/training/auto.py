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
# (project id, created) -> the last "after" worked out below. It only grows (runs are
# never deleted, refusals only move forward), so a stale value is smaller than the true
# one and the pre-check in maybe_train can only let through a check it could have
# skipped, never skip one it needed. It saves the three reads on most annotations.
_counted_after: dict[tuple[int, datetime], int] = {}


def new_labels_since(session: Session, project: Project, after: int, cap: int) -> int:
    """Annotations newer than ``after``, counted up to ``cap`` (cheap)."""
    recent = (
        select(Annotation.id)
        .where(Annotation.project_id == project.id, Annotation.id > after)
        .limit(cap)
        .subquery()
    )
    return session.scalar(select(func.count()).select_from(recent)) or 0


def maybe_train(
    session: Session, celery: Celery, project: Project, newest: int
) -> TrainingRun | None:
    """Queue a run if N labels arrived since the last one and none is queued or running.

    ``newest`` is the id of the annotation just recorded. Ids only grow, so at most
    ``newest - after`` of the project's annotations are newer than ``after``: below N,
    there is nothing to count.
    """
    every = project.auto_train_every
    key = (project.id, project.created_at)
    if every <= 0 or project.archived or newest - _counted_after.get(key, 0) < every:
        return None
    if service.has_active_run(session, project.id):
        return None
    seen = session.scalar(
        select(func.max(TrainingRun.last_annotation_id)).where(TrainingRun.project_id == project.id)
    )
    after = max(seen or 0, _refused_at.get(key, 0))
    _counted_after[key] = after
    if new_labels_since(session, project, after, every) < every:
        return None
    try:
        return service.start_run(
            session, celery, project, None, mode=RunMode.linear, trigger="auto"
        )
    except DomainError:
        # Not trainable yet (too few classes); try again after another N labels.
        latest = session.scalar(
            select(func.max(Annotation.id)).where(Annotation.project_id == project.id)
        )
        _refused_at[key] = latest or 0
        return None
