"""A reviewer's "keep" in the odd-pictures queue, and taking it back (undo).

A keep is not an annotation: the picture may have no label, and keeping it says only
that it belongs in the set. The first keep of an image stands; keeping it again changes
nothing.
"""

from __future__ import annotations

from sqlalchemy import delete, select, true
from sqlalchemy.orm import Session

from app.db import upsert, utcnow
from app.errors import Conflict
from app.images.models import Image
from app.insights.models import ReviewDismissal
from app.labeling import leases
from app.labeling.models import QueueMode
from app.projects.models import Project

ODD_PICTURES = QueueMode.odd_pictures.value  # the one queue with keeps, for now


def _writable(project: Project) -> None:
    if project.archived:
        raise Conflict("The project is archived; restore it to review its images.")


def keep(
    session: Session, project: Project, image: Image, user_id: int, queue: str
) -> tuple[ReviewDismissal, bool]:
    """The image's keep in ``queue`` and whether this call made it. The caller's lease on
    the image ends, as a decision's does."""
    _writable(project)
    table = ReviewDismissal.__table__
    made = session.scalar(
        upsert(session, table)
        .values(
            image_id=image.id,
            queue=queue,
            project_id=project.id,
            user_id=user_id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[table.c.image_id, table.c.queue])
        .returning(table.c.image_id)
    )
    leases.release(session, user_id, [image.id])
    row = session.scalars(
        select(ReviewDismissal)
        .where(ReviewDismissal.image_id == image.id, ReviewDismissal.queue == queue)
        .execution_options(populate_existing=True)
    ).one()
    return row, made is not None


def take_back(
    session: Session, project: Project, image: Image, user_id: int, lease_seconds: int
) -> None:
    """Undo a keep (nothing to undo is fine): the picture is back on the caller's screen,
    so it is leased to them again from the queue (unless someone else holds it now), and
    the decision they make next is a review, as it was before the keep."""
    _writable(project)
    session.execute(
        delete(ReviewDismissal).where(
            ReviewDismissal.image_id == image.id, ReviewDismissal.queue == ODD_PICTURES
        )
    )
    leases.claim_first(
        session,
        [image.id],
        true(),
        user_id=user_id,
        mode=QueueMode.odd_pictures,
        seconds=lease_seconds,
    )
