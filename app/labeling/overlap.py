"""Overlap: a share of the images gets a second, independent label.

Which images is decided by a hash of the image id, so the share is stable (the same
image is always in or out) and needs no column on the image.

The second label is a second opinion: it is kept and compared with the label it was
given against, but it never replaces that label by itself. When the two disagree, the
image keeps its first label and waits in the disagreements queue until a manager
decides (a review, which sets the label and resolves the overlap). Meanwhile only a
manager may change its label.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import Conflict
from app.images.models import Image, ImageStatus
from app.labeling.models import Annotation, AnnotationSource, Overlap, OverlapState
from app.projects.models import Project

State = tuple[int | None, bool]  # (category_id, rejected): what a label says


def picked(image_id: int, percent: int) -> bool:
    # Knuth's multiplicative hash spreads consecutive ids evenly over the 100 buckets.
    return (image_id * 2654435761) % 2**32 % 100 < percent


def state_of(image: Image) -> State:
    return image.category_id, image.status == ImageStatus.rejected


def disputed(row: Overlap | None) -> bool:
    return row is not None and row.state == OverlapState.disagreed


def classify(
    row: Overlap | None, user_id: int, from_review_queue: bool, manages: Callable[[], bool]
) -> tuple[AnnotationSource, bool]:
    """What a person's decision about an image is: its source, and whether it is a
    second opinion. A disputed image takes a manager's review only."""
    if row is not None and row.state == OverlapState.disagreed:
        if not manages():
            raise Conflict(
                f"Image {row.image_id} is disputed: two labelers disagreed. "
                "A manager settles it in the disagreements queue."
            )
        return AnnotationSource.review, False
    if from_review_queue:
        return AnnotationSource.review, False
    if row is not None and row.state == OverlapState.pending and user_id != row.first_user_id:
        return AnnotationSource.manual, True
    return AnnotationSource.manual, False


def after_decision(
    session: Session, project: Project, before: State, annotation: Annotation, row: Overlap | None
) -> None:
    """Track the image's overlap after a decision; ``row`` and ``before`` were read under
    the write lock (SQLite) or the image's row lock (PostgreSQL)."""
    if row is None:
        if (
            annotation.source == AnnotationSource.manual
            and before == (None, False)
            and picked(annotation.image_id, project.overlap_percent)
        ):
            session.add(
                Overlap(
                    image_id=annotation.image_id,
                    project_id=project.id,
                    first_user_id=annotation.user_id,
                    first_annotation_id=annotation.id,
                    state=OverlapState.pending,
                )
            )
        return
    if annotation.second_opinion:
        said: State = (annotation.category_id, annotation.rejected)
        row.second_user_id = annotation.user_id
        row.second_annotation_id = annotation.id
        row.state = OverlapState.agreed if said == before else OverlapState.disagreed
    elif row.state == OverlapState.disagreed and annotation.source == AnnotationSource.review:
        row.state = OverlapState.resolved
        row.resolution_annotation_id = annotation.id
    else:
        return
    row.updated_at = utcnow()


def after_undo(session: Session, undone: Annotation) -> None:
    """Undoing a decision about an overlap image puts its overlap back where it was."""
    row = session.get(Overlap, undone.image_id, populate_existing=True)
    if row is None:
        return
    if row.first_annotation_id == undone.id and row.state == OverlapState.pending:
        session.delete(row)
    elif row.second_annotation_id == undone.id:
        row.second_user_id = row.second_annotation_id = None
        row.state = OverlapState.pending
    elif row.resolution_annotation_id == undone.id:
        row.resolution_annotation_id = None
        row.state = OverlapState.disagreed
    else:
        return
    row.updated_at = utcnow()


def open_disputes(session: Session, project_id: int) -> int:
    """How many images wait in the project's disagreements queue for a manager."""
    count = session.scalar(
        select(func.count())
        .select_from(Overlap)
        .where(Overlap.project_id == project_id, Overlap.state == OverlapState.disagreed)
    )
    return count or 0


def open_disputes_for_page(session: Session, project: Project, can_manage: bool) -> int:
    """The project page's count (registered by app.pages): settling disagreements is a
    manager's job, so labelers are not offered the queue."""
    return open_disputes(session, project.id) if can_manage else 0


def dispute(session: Session, image_id: int) -> list[Annotation] | None:
    """The two labels a disputed image got, first then second; None if it is not disputed."""
    row = session.get(Overlap, image_id)
    if row is None or row.state != OverlapState.disagreed:
        return None
    ids = [row.first_annotation_id, row.second_annotation_id]
    found = {a.id: a for a in session.scalars(select(Annotation).where(Annotation.id.in_(ids)))}
    pair = [found[i] for i in ids if i is not None and i in found]
    return pair if len(pair) == 2 else None
