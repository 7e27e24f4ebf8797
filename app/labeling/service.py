"""Annotations: append a decision, and keep the image's current label in step with it.

The history is the truth; ``Image.status`` and ``Image.category_id`` are its latest row,
kept as columns so that galleries and queues filter on an index. Only this module
writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.models import User
from app.errors import Conflict, InvalidInput, NotFound
from app.images.models import Image, ImageStatus
from app.labeling import leases, overlap
from app.labeling.models import Annotation, AnnotationSource, QueueMode
from app.labeling.schemas import AnnotationOut, Decision
from app.projects.models import Project
from app.projects.service import can_manage
from app.taxonomy import service as taxonomy

REVIEW_QUEUES = {QueueMode.review, QueueMode.rejected, QueueMode.disagreements}


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
        idempotency_key=idempotency_key,
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


def outs(session: Session, annotations: list[Annotation]) -> list[AnnotationOut]:
    """The API shape, with each author's username (one query for all of them)."""
    ids = {a.user_id for a in annotations if a.user_id is not None}
    names: dict[int, str] = {}
    if ids:
        query = select(User.id, User.username).where(User.id.in_(ids))
        names = {row.id: row.username for row in session.execute(query)}
    return [
        AnnotationOut(
            id=a.id,
            image_id=a.image_id,
            user_id=a.user_id,
            username=names.get(a.user_id) if a.user_id is not None else None,
            category_id=a.category_id,
            rejected=a.rejected,
            reason=a.reason,
            source=a.source,
            undoes_id=a.undoes_id,
            created_at=a.created_at,
        )
        for a in annotations
    ]


def _writable(project: Project) -> None:
    if project.archived:
        raise Conflict("The project is archived; restore it to label its images.")


def _check_category(session: Session, project: Project, decision: Decision) -> None:
    if decision.category_id is None:
        return
    try:
        taxonomy.category_in_project(session, project, decision.category_id)
    except NotFound:
        raise InvalidInput(
            f"Category {decision.category_id} is not a category of this image's project."
        ) from None


def _by_key(session: Session, user_id: int, key: str) -> Annotation | None:
    return session.scalar(
        select(Annotation).where(Annotation.user_id == user_id, Annotation.idempotency_key == key)
    )


@dataclass(frozen=True)
class Recorded:
    annotation: Annotation
    created: bool  # False: a retry of a request already stored


def _decide(
    session: Session,
    project: Project,
    image: Image,
    user: User,
    decision: Decision,
    source: AnnotationSource,
    key: str | None = None,
) -> Annotation:
    before = overlap.state_of(image)
    annotation = annotate(
        session,
        image,
        user.id,
        category_id=decision.category_id,
        rejected=decision.rejected,
        reason=decision.reason,
        source=source,
        idempotency_key=key,
    )
    overlap.after_decision(session, project, before, annotation)
    return annotation


def record(
    session: Session,
    user: User,
    project: Project,
    image: Image,
    decision: Decision,
    idempotency_key: str | None,
) -> Recorded:
    """Store one decision about one image, once per idempotency key."""
    if idempotency_key is not None and (found := _by_key(session, user.id, idempotency_key)):
        return _replay(found, image)
    _writable(project)
    _check_category(session, project, decision)
    # The first write: on SQLite it takes the write lock, so what is read next is current.
    held_from = leases.give_back(session, user.id, image.id)
    session.refresh(image)
    source = AnnotationSource.manual
    if held_from in REVIEW_QUEUES or (
        overlap.is_disagreement(session, image.id) and can_manage(session, user, project)
    ):
        source = AnnotationSource.review
    try:
        with session.begin_nested():
            annotation = _decide(session, project, image, user, decision, source, idempotency_key)
    except IntegrityError:
        # A concurrent retry with the same key stored it first.
        found = _by_key(session, user.id, idempotency_key) if idempotency_key else None
        if found is None:
            raise
        return _replay(found, image)
    return Recorded(annotation, True)


def _replay(found: Annotation, image: Image) -> Recorded:
    if found.image_id != image.id:
        raise Conflict(
            f"This Idempotency-Key was already used for image {found.image_id}; use a new key."
        )
    return Recorded(found, False)


def bulk(
    session: Session, user: User, project: Project, image_ids: list[int], decision: Decision
) -> list[Annotation]:
    """One decision for many images, all or nothing."""
    _writable(project)
    _check_category(session, project, decision)
    wanted = list(dict.fromkeys(image_ids))
    images = {
        image.id: image
        for image in session.scalars(
            select(Image).where(Image.project_id == project.id, Image.id.in_(wanted))
        )
    }
    missing = [i for i in wanted if i not in images]
    if missing:
        shown = ", ".join(str(i) for i in missing[:20])
        raise InvalidInput(f"Not images of this project: {shown}. Nothing was labeled.")
    leases.release(session, user.id, wanted)
    return [
        _decide(session, project, images[i], user, decision, AnnotationSource.manual)
        for i in wanted
    ]


def undo_last(session: Session, user: User, project: Project) -> Annotation:
    """Undo the user's latest decision not yet undone, by appending the state before it."""
    _writable(project)
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
    previous = session.scalar(
        select(Annotation)
        .where(Annotation.image_id == target.image_id, Annotation.id < target.id)
        .order_by(Annotation.id.desc())
        .limit(1)
    )
    image = session.get_one(Image, target.image_id)
    annotation = annotate(
        session,
        image,
        user.id,
        category_id=previous.category_id if previous else None,
        rejected=previous.rejected if previous else False,
        reason=previous.reason if previous else None,
        source=AnnotationSource.undo,
        undoes_id=target.id,
    )
    overlap.after_undo(session, target)
    return annotation
