"""Annotations: append a decision, and keep the image's current label in step with it.

The history is the truth; ``Image.status`` and ``Image.category_id`` are its latest row,
kept as columns so that galleries and queues filter on an index. Only this module
writes them.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.images.models import Image, ImageStatus
from app.labeling.models import Annotation, AnnotationSource


def annotate(
    session: Session,
    image: Image,
    user_id: int | None,
    *,
    category_id: int | None = None,
    rejected: bool = False,
    reason: str | None = None,
    source: AnnotationSource = AnnotationSource.manual,
    undoes_id: int | None = None,
) -> Annotation:
    """Append one decision: a label (``category_id``), a rejection, or neither (unlabeled)."""
    if rejected and category_id is not None:
        raise ValueError("an annotation is a label or a rejection, not both")
    annotation = Annotation(
        project_id=image.project_id,
        image_id=image.id,
        user_id=user_id,
        category_id=category_id,
        rejected=rejected,
        reason=reason if rejected else None,
        source=source,
        undoes_id=undoes_id,
    )
    session.add(annotation)
    image.category_id = category_id
    if rejected:
        image.status = ImageStatus.rejected
    elif category_id is not None:
        image.status = ImageStatus.labeled
    else:
        image.status = ImageStatus.unlabeled
    session.flush()
    return annotation


def history(session: Session, image_id: int) -> list[Annotation]:
    """Every decision about an image, oldest first."""
    return list(
        session.scalars(
            select(Annotation).where(Annotation.image_id == image_id).order_by(Annotation.id)
        )
    )
