"""A person's decisions: one image at a time (the labeling screen, the API) or many at
once (the grid), each stored once per Idempotency-Key.

Everything that can be read first is; the writes come last. An annotation's INSERT also
sets its image's label and drops its author's lease, through a database trigger
(migration 7c3d2e9f4a53), so most decisions are that one statement. On SQLite a write
in a transaction holds the database's single write lock until the request commits; on
PostgreSQL the image's row is locked first instead.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.auth.models import User
from app.db import upsert, utcnow
from app.errors import Conflict, InvalidInput
from app.images.models import Image
from app.labeling import leases, overlap
from app.labeling.autocommit import on_its_own
from app.labeling.decision_sql import facts as _facts
from app.labeling.decision_sql import insert as _insert
from app.labeling.models import (
    Annotation,
    BulkRequest,
    Overlap,
    QueueMode,
)
from app.labeling.schemas import Decision
from app.labeling.service import annotate, bad_category, check_category, status_of, writable
from app.projects.models import Project
from app.projects.service import can_manage

# A decision made from any of these is a review; from the others, a label.
REVIEW_QUEUES = set(QueueMode) - {QueueMode.label, QueueMode.predicted}


@dataclass(frozen=True)
class Recorded:
    annotations: list[Annotation]
    created: bool  # False: a retry of a request already stored; these are its rows


def lock_images(session: Session, image_ids: list[int]) -> None:
    """PostgreSQL: lock the images before their rows get ids, so that annotation ids
    follow the order in which each image's label changes. (SQLite has one writer at a
    time already.)"""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(Image.id).where(Image.id.in_(image_ids)).order_by(Image.id).with_for_update()
        )


def _by_key(session: Session, user_id: int, key: str) -> Annotation | None:
    return session.scalar(
        select(Annotation).where(Annotation.user_id == user_id, Annotation.idempotency_key == key)
    )


def bulk_by_key(session: Session, user_id: int, key: str) -> BulkRequest | None:
    query = select(BulkRequest).where(
        BulkRequest.user_id == user_id, BulkRequest.idempotency_key == key
    )
    return session.scalar(query)


def _reused(what: str) -> Conflict:
    return Conflict(f"This Idempotency-Key was already used for {what}; use a new key.")


# ---- one image ----------------------------------------------------------------------


def _replay(found: Annotation, image: Image) -> Recorded:
    if found.image_id != image.id:
        raise _reused(f"image {found.image_id}")
    return Recorded([found], False)


def record(
    session: Session,
    user: User,
    project: Project,
    image: Image,
    decision: Decision,
    idempotency_key: str | None,
) -> Recorded:
    """Store one decision about one image, once per idempotency key.

    Most images take no part in an overlap: their decision is the annotation's INSERT
    alone, which SQLite commits by itself (``autocommit.on_its_own``). It is a unit of
    work on its own; a request that fails after it has still stored it (a retry with
    the same key gets it back). The few overlap images go through ``_record_overlap``.
    """
    key = idempotency_key
    facts = _facts(session, user.id, project.id, image.id, decision.category_id, key)
    if key is not None and facts.key_used and (found := _by_key(session, user.id, key)):
        return _replay(found, image)
    if key is not None and facts.key_used_in_bulk:
        raise _reused("a bulk request")
    writable(project)
    if not facts.category_ok:
        raise bad_category(decision.category_id)
    # An overlap row appears only for a picked image, so this read cannot go stale
    # (short of the project's overlap share changing at this very moment).
    if facts.in_overlap or overlap.picked(image.id, project.overlap_percent):
        return _record_overlap(session, user, project, image, decision, key)
    from_review = facts.held_from in REVIEW_QUEUES
    kind = overlap.classify(None, user.id, from_review, lambda: False)
    lock_images(session, [image.id])
    with on_its_own(session):
        annotation = _insert(session, image, user.id, decision, kind, key)
    return _stored(session, user, image, key, annotation)


def _record_overlap(
    session: Session,
    user: User,
    project: Project,
    image: Image,
    decision: Decision,
    key: str | None,
) -> Recorded:
    """A decision about an overlap image, in the request's transaction: its label and
    overlap are read again under the lock that its first write takes."""
    lock_images(session, [image.id])
    # SQLite: takes the lock.
    held_from = leases.release(session, user.id, [image.id]).get(image.id)
    session.refresh(image)
    row = session.get(Overlap, image.id, populate_existing=True)
    before = overlap.state_of(image)
    kind = overlap.classify(
        row, user.id, held_from in REVIEW_QUEUES, lambda: can_manage(session, user, project)
    )
    annotation = _insert(session, image, user.id, decision, kind, key)
    recorded = _stored(session, user, image, key, annotation)
    if recorded.created:
        overlap.after_decision(session, project, before, recorded.annotations[0], row)
    return recorded


def _stored(
    session: Session, user: User, image: Image, key: str | None, annotation: Annotation | None
) -> Recorded:
    if annotation is None:  # a concurrent retry with the same key stored it first
        found = _by_key(session, user.id, key) if key is not None else None
        if found is None:
            raise Conflict("The decision could not be stored; try again.")
        return _replay(found, image)
    if not annotation.second_opinion:
        # The trigger has set the label in the database; the loaded image says so too,
        # without another write.
        set_committed_value(image, "category_id", annotation.category_id)
        set_committed_value(image, "status", status_of(annotation.category_id, annotation.rejected))
    return Recorded([annotation], True)


# ---- many images ----------------------------------------------------------------------


def fingerprint(image_ids: list[int], decision: Decision) -> str:
    """The same request, whatever the order of its ids: what a retry must match."""
    body = {
        "image_ids": sorted(set(image_ids)),
        "category_id": decision.category_id,
        "rejected": decision.rejected,
        "reason": decision.reason,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _bulk_replay(session: Session, found: BulkRequest, fp: str) -> Recorded:
    if found.fingerprint != fp:
        raise Conflict(
            "This Idempotency-Key was already used for a different bulk request (other "
            "images or another decision); use a new key for a new request."
        )
    rows = session.scalars(
        select(Annotation).where(Annotation.bulk_request_id == found.id).order_by(Annotation.id)
    )
    return Recorded(list(rows), False)


def _claim_key(session: Session, user: User, project: Project, key: str, fp: str) -> int | None:
    """Record the bulk request's key; None if a concurrent retry recorded it first."""
    stmt = (
        upsert(session, BulkRequest)
        .values(
            project_id=project.id,
            user_id=user.id,
            idempotency_key=key,
            fingerprint=fp,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[BulkRequest.user_id, BulkRequest.idempotency_key])
        .returning(BulkRequest.id)
    )
    request_id: int | None = session.scalar(stmt)
    return request_id


def bulk(
    session: Session,
    user: User,
    project: Project,
    image_ids: list[int],
    decision: Decision,
    idempotency_key: str | None = None,
) -> Recorded:
    """One decision for many images, all or nothing, once per idempotency key."""
    key = idempotency_key
    fp = fingerprint(image_ids, decision)
    if key is not None:
        if found := bulk_by_key(session, user.id, key):
            return _bulk_replay(session, found, fp)
        if _by_key(session, user.id, key) is not None:
            raise _reused("a single annotation")
    writable(project)
    check_category(session, project, decision)
    wanted = list(dict.fromkeys(image_ids))
    present = set(
        session.scalars(
            select(Image.id).where(Image.project_id == project.id, Image.id.in_(wanted))
        )
    )
    missing = [i for i in wanted if i not in present]
    if missing:
        shown = ", ".join(str(i) for i in missing[:20])
        raise InvalidInput(f"Not images of this project: {shown}. Nothing was labeled.")
    lock_images(session, wanted)
    request_id = None
    if key is not None:
        request_id = _claim_key(session, user, project, key, fp)  # SQLite: takes the lock
        if request_id is None:
            found = bulk_by_key(session, user.id, key)
            if found is None:
                raise Conflict("The request could not be stored; try again.")
            return _bulk_replay(session, found, fp)
    leases.release(session, user.id, wanted)  # SQLite: takes the lock, if no key did
    # Read under the lock: the labels these decisions replace, and the overlaps.
    fresh = select(Image).where(Image.id.in_(wanted)).execution_options(populate_existing=True)
    images = {image.id: image for image in session.scalars(fresh)}
    rows = {
        row.image_id: row
        for row in session.scalars(
            select(Overlap)
            .where(Overlap.image_id.in_(wanted))
            .execution_options(populate_existing=True)
        )
    }
    _refuse_disputed(session, user, project, rows)
    made = []
    for image_id in wanted:
        image, row = images[image_id], rows.get(image_id)
        before = overlap.state_of(image)
        # Disputed images were refused above unless the user manages the project.
        source, second = overlap.classify(row, user.id, False, lambda: True)
        annotation = annotate(
            session,
            image,
            user.id,
            category_id=decision.category_id,
            rejected=decision.rejected,
            reason=decision.reason,
            source=source,
            second_opinion=second,
            bulk_request_id=request_id,
        )
        overlap.after_decision(session, project, before, annotation, row)
        made.append(annotation)
    return Recorded(made, True)


def _refuse_disputed(
    session: Session, user: User, project: Project, rows: dict[int, Overlap]
) -> None:
    disputed = sorted(i for i, row in rows.items() if overlap.disputed(row))
    if disputed and not can_manage(session, user, project):
        shown = ", ".join(str(i) for i in disputed[:20])
        raise Conflict(
            f"Disputed images (two labelers disagreed): {shown}. A manager settles them in "
            "the disagreements queue; leave them out of the selection. Nothing was labeled."
        )
