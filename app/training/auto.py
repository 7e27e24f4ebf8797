"""Auto-train: queue a linear run after every N new labels, one run at a time."""

from __future__ import annotations

from datetime import datetime

from celery import Celery
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import DomainError
from app.images.models import Image
from app.labeling.models import Annotation
from app.projects.models import Project
from app.training import service
from app.training.dataset import MIN_CLASSES, MIN_PER_CLASS
from app.training.models import RunMode, TrainingRun

# Categories looked at by the pre-check before it leaves the decision to the full one.
MAX_PROBES = 64

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


def may_be_trainable(session: Session, project_id: int) -> bool:
    """False when no run could learn: fewer than MIN_CLASSES categories with
    MIN_PER_CLASS labeled images each. Auto-train runs at the deepest labels, where each
    category is its own class, so this is necessary for a run; ``start_run`` checks the
    rest. It walks the (project, category) index one category at a time, a few bounded
    reads whatever the labeled count: a one-class project would otherwise read every
    label on each refused attempt, and that grows with the project."""
    ready = 0
    after: int | None = None
    labeled = [Image.project_id == project_id, Image.category_id.is_not(None)]
    for _ in range(MAX_PROBES):
        where = labeled if after is None else [*labeled, Image.category_id > after]
        category = session.scalar(select(func.min(Image.category_id)).where(*where))
        if category is None:
            return False
        some = select(Image.id).where(*labeled, Image.category_id == category)
        enough = some.limit(MIN_PER_CLASS).subquery()
        if (session.scalar(select(func.count()).select_from(enough)) or 0) >= MIN_PER_CLASS:
            ready += 1
            if ready >= MIN_CLASSES:
                return True
        after = category
    return True  # many small categories: the full check decides


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
    if not may_be_trainable(session, project.id):
        # Refused without reading the labels; try again after another N labels.
        _refused_at[key] = newest
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
