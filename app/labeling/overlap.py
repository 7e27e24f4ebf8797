"""Overlap: a share of the images gets a second, independent label.

Which images is decided by a hash of the image id, so the share is stable (the same
image is always in or out) and needs no column on the image.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.db import utcnow
from app.images.models import Image, ImageStatus
from app.labeling.models import Annotation, AnnotationSource, Overlap, OverlapState
from app.projects.models import Project

State = tuple[int | None, bool]  # (category_id, rejected): what a label says


def picked(image_id: int, percent: int) -> bool:
    # Knuth's multiplicative hash spreads consecutive ids evenly over the 100 buckets.
    return (image_id * 2654435761) % 2**32 % 100 < percent


def state_of(image: Image) -> State:
    return image.category_id, image.status == ImageStatus.rejected


def after_decision(
    session: Session, project: Project, before: State, annotation: Annotation
) -> None:
    """Track the image's overlap after a manual or review decision (under the write lock)."""
    overlap = session.get(Overlap, annotation.image_id, populate_existing=True)
    user_id = annotation.user_id
    if overlap is None:
        if (
            annotation.source == AnnotationSource.manual
            and before == (None, False)
            and picked(annotation.image_id, project.overlap_percent)
        ):
            session.add(
                Overlap(
                    image_id=annotation.image_id,
                    project_id=project.id,
                    first_user_id=user_id,
                    first_annotation_id=annotation.id,
                    state=OverlapState.pending,
                )
            )
        return
    if overlap.state == OverlapState.pending and user_id != overlap.first_user_id:
        after: State = (annotation.category_id, annotation.rejected)
        overlap.second_user_id = user_id
        overlap.second_annotation_id = annotation.id
        overlap.state = OverlapState.agreed if after == before else OverlapState.disagreed
    elif overlap.state == OverlapState.disagreed and annotation.source == AnnotationSource.review:
        overlap.state = OverlapState.resolved
    else:
        return
    overlap.updated_at = utcnow()


def after_undo(session: Session, undone: Annotation) -> None:
    """Undoing a label of an overlap image puts its overlap back where it was."""
    overlap = session.get(Overlap, undone.image_id)
    if overlap is None:
        return
    if overlap.first_annotation_id == undone.id and overlap.state == OverlapState.pending:
        session.delete(overlap)
    elif overlap.second_annotation_id == undone.id:
        overlap.second_user_id = overlap.second_annotation_id = None
        overlap.state = OverlapState.pending
        overlap.updated_at = utcnow()
