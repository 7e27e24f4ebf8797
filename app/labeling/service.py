"""Annotations: append a decision, and keep the image's current label in step with it.

The history is the truth; ``Image.status`` and ``Image.category_id`` are its latest row
that is not a second opinion (see ``app.labeling.overlap``), kept as columns so that
galleries and queues filter on an index. The database keeps them in step: a trigger on
``annotations`` (migration 7c3d2e9f4a53) sets them from every new row, in the INSERT's
own statement. ``annotate`` sets them on the loaded image too, so that the session sees
the new label before it flushes.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.errors import Conflict, InvalidInput, NotFound
from app.images.models import Image, ImageStatus
from app.labeling import overlap
from app.labeling.models import Annotation, AnnotationSource
from app.labeling.schemas import AnnotationOut, Decision
from app.projects.models import Project
from app.taxonomy import service as taxonomy


def status_of(category_id: int | None, rejected: bool) -> ImageStatus:
    if rejected:
        return ImageStatus.rejected
    return ImageStatus.labeled if category_id is not None else ImageStatus.unlabeled


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
    idempotency_key: str | None = None,
    second_opinion: bool = False,
    bulk_request_id: int | None = None,
) -> Annotation:
    """Append one decision: a label (``category_id``), a rejection, or neither (unlabeled).

    A second opinion is stored and leaves the image's current label as it is.
    """
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
        idempotency_key=idempotency_key,
        second_opinion=second_opinion,
        bulk_request_id=bulk_request_id,
    )
    session.add(annotation)
    if not second_opinion:
        image.category_id = category_id
        image.status = status_of(category_id, rejected)
    session.flush()
    return annotation


def history(session: Session, image_id: int) -> list[Annotation]:
    """Every decision about an image, oldest first."""
    return list(
        session.scalars(
            select(Annotation).where(Annotation.image_id == image_id).order_by(Annotation.id)
        )
    )


def outs(session: Session, annotations: list[Annotation]) -> list[AnnotationOut]:
    """The API shape, with each author's username (one query for all of them)."""
    ids = {a.user_id for a in annotations if a.user_id is not None}
    names: dict[int, str] = {}
    if ids:
        query = select(User.id, User.username).where(User.id.in_(ids))
        names = {row.id: row.username for row in session.execute(query)}
    return [out(a, names.get(a.user_id) if a.user_id is not None else None) for a in annotations]


def out(a: Annotation, username: str | None) -> AnnotationOut:
    """The API shape of one annotation whose author's name is known (no query)."""
    return AnnotationOut(
        id=a.id,
        image_id=a.image_id,
        user_id=a.user_id,
        username=username,
        category_id=a.category_id,
        rejected=a.rejected,
        reason=a.reason,
        source=a.source,
        second_opinion=a.second_opinion,
        undoes_id=a.undoes_id,
        created_at=a.created_at,
    )


def writable(project: Project) -> None:
    if project.archived:
        raise Conflict("The project is archived; restore it to label its images.")


def bad_category(category_id: int | None) -> InvalidInput:
    return InvalidInput(f"Category {category_id} is not a category of this image's project.")


def check_category(session: Session, project: Project, decision: Decision) -> None:
    if decision.category_id is None:
        return
    try:
        taxonomy.category_in_project(session, project, decision.category_id)
    except NotFound:
        raise bad_category(decision.category_id) from None


def undo_last(session: Session, user: User, project: Project) -> Annotation:
    """Undo the user's latest decision not yet undone, by appending the state before it."""
    writable(project)
    undone = select(Annotation.undoes_id).where(
        Annotation.project_id == project.id,
        Annotation.user_id == user.id,
        Annotation.undoes_id.is_not(None),
    )
    target = session.scalar(
        select(Annotation)
        .where(
            Annotation.project_id == project.id,
            Annotation.user_id == user.id,
            Annotation.source != AnnotationSource.undo,
            Annotation.id.notin_(undone),
        )
        .order_by(Annotation.id.desc())
        .limit(1)
    )
    if target is None:
        raise Conflict("Nothing to undo.")
    # The user's own later rows on this image are undone decisions or undos; anyone
    # else's would be silently dropped by restoring the older state.
    later = session.scalar(
        select(Annotation.id).where(
            Annotation.image_id == target.image_id,
            Annotation.id > target.id,
            Annotation.user_id.is_distinct_from(user.id),
        )
    )
    if later is not None:
        raise Conflict(
            f"Image {target.image_id} has been labeled again since your decision; "
            "change its label instead of undoing."
        )
    return reverse(session, user.id, target)


def reverse(session: Session, user_id: int, target: Annotation) -> Annotation:
    """Append the undo of ``target``: the image gets back the label it had before it."""
    # The label before the target: its latest earlier row that set one (a second
    # opinion never did).
    previous = session.scalar(
        select(Annotation)
        .where(
            Annotation.image_id == target.image_id,
            Annotation.id < target.id,
            Annotation.second_opinion.is_(False),
        )
        .order_by(Annotation.id.desc())
        .limit(1)
    )
    image = session.get_one(Image, target.image_id)
    annotation = annotate(
        session,
        image,
        user_id,
        category_id=previous.category_id if previous else None,
        rejected=previous.rejected if previous else False,
        reason=previous.reason if previous else None,
        source=AnnotationSource.undo,
        undoes_id=target.id,
        # Withdrawing a second opinion is part of that side track: like the opinion, it
        # leaves the current label, and who set it, as they were.
        second_opinion=target.second_opinion,
    )
    overlap.after_undo(session, target)
    return annotation
