"""Annotations: append a decision, and keep the image's current label in step with it.

The history is the truth; ``Image.status`` and ``Image.category_id`` are its latest row,
kept as columns so that galleries and queues filter on an index. Only this module
writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.auth.models import User
from app.db import utcnow
from app.errors import Conflict, InvalidInput, NotFound
from app.images.models import Image, ImageStatus
from app.labeling import leases, overlap
from app.labeling.models import Annotation, AnnotationSource, Overlap, OverlapState, QueueMode
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
        undoes_id=a.undoes_id,
        created_at=a.created_at,
    )


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


def _decide(
    session: Session,
    project: Project,
    image: Image,
    user: User,
    decision: Decision,
    source: AnnotationSource,
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
    )
    overlap.after_decision(session, project, before, annotation)
    return annotation


@dataclass(frozen=True)
class Recorded:
    annotation: Annotation
    created: bool  # False: a retry of a request already stored


def _source(
    session: Session,
    user: User,
    project: Project,
    held_from: QueueMode | None,
    tracked: Overlap | None,
) -> AnnotationSource:
    """A decision from a review queue, or a manager's on a disagreement, is a review."""
    if held_from in REVIEW_QUEUES:
        return AnnotationSource.review
    disputed = tracked is not None and tracked.state == OverlapState.disagreed
    if disputed and can_manage(session, user, project):
        return AnnotationSource.review
    return AnnotationSource.manual


def _insert(
    session: Session,
    image: Image,
    user_id: int,
    decision: Decision,
    source: AnnotationSource,
    key: str | None,
) -> Annotation | None:
    """Append the decision's row; None if a concurrent retry stored this key first.

    ON CONFLICT DO NOTHING rather than a savepoint: the unique key decides between two
    retries in this one statement, and a conflict leaves the transaction usable.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Annotation).values(
        project_id=image.project_id,
        image_id=image.id,
        user_id=user_id,
        category_id=decision.category_id,
        rejected=decision.rejected,
        reason=decision.reason if decision.rejected else None,
        source=source,
        idempotency_key=key,
        created_at=utcnow(),
    )
    if key is not None:
        stmt = stmt.on_conflict_do_nothing(
            index_elements=[Annotation.user_id, Annotation.idempotency_key]
        )
    return session.scalars(stmt.returning(Annotation)).first()


def record(
    session: Session,
    user: User,
    project: Project,
    image: Image,
    decision: Decision,
    idempotency_key: str | None,
) -> Recorded:
    """Store one decision about one image, once per idempotency key.

    Everything is read first and the writes come last, back to back: the row, the
    image's label, the lease (and the overlap, for the few images it concerns). On
    SQLite the first write takes the database's single write lock until the request
    commits, so nothing slow may run after it.
    """
    if idempotency_key is not None and (found := _by_key(session, user.id, idempotency_key)):
        return _replay(found, image)
    _writable(project)
    _check_category(session, project, decision)
    tracked = session.get(Overlap, image.id)
    held_from = leases.held_mode(session, user.id, image.id)
    source = _source(session, user, project, held_from, tracked)
    concerned = tracked is not None or overlap.picked(image.id, project.overlap_percent)
    if session.get_bind().dialect.name == "postgresql":
        # Lock the image before the row gets its id, so that annotation ids follow the
        # order in which the image's label changes (the latest row is its label).
        session.execute(select(Image.id).where(Image.id == image.id).with_for_update())
    annotation = _insert(session, image, user.id, decision, source, idempotency_key)
    if annotation is None:
        found = _by_key(session, user.id, idempotency_key) if idempotency_key else None
        if found is None:
            raise Conflict("The decision could not be stored; try again.")
        return _replay(found, image)
    before = overlap.state_of(image)
    if concerned:
        # Under the write lock (or the row lock) now: the state this decision replaces.
        session.refresh(image)
        before = overlap.state_of(image)
    session.execute(
        update(Image)
        .where(Image.id == image.id)
        .values(category_id=decision.category_id, status=_status(decision))
    )
    leases.give_back(session, user.id, image.id)
    if concerned:
        overlap.after_decision(session, project, before, annotation)
    return Recorded(annotation, True)


def _status(decision: Decision) -> ImageStatus:
    return ImageStatus.rejected if decision.rejected else ImageStatus.labeled


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
