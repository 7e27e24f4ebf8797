"""Leases: which labeler holds which image, taken and given back atomically.

A claim is one statement: an upsert on the image's lease row that only takes over a row
that has expired or that the caller already holds, for the first candidate that is
still eligible. The database decides between two claims, not a read followed by a
write, so it holds on PostgreSQL (row locks) and on SQLite (one writer at a time) alike.

Expired leases are not cleaned up on the request path: every query treats them as free
and a claim takes them over, so at most one row per image remains, whoever left it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    bindparam,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app.db import UTCDateTime, upsert, utcnow
from app.images.models import Image
from app.labeling.autocommit import on_its_own
from app.labeling.models import Lease, QueueMode


def claim_first(
    session: Session,
    candidates: Sequence[int],
    eligible: ColumnElement[bool],
    *,
    user_id: int,
    mode: QueueMode,
    seconds: int,
) -> tuple[int, datetime] | None:
    """Lease the first of the candidates, in their order, that is still ``eligible`` (a
    condition on ``Image``) and free; its id and the lease's expiry, or None.

    On SQLite this statement commits by itself (``autocommit.on_its_own``): it runs
    under the write lock and sees every committed claim and label, so candidates taken
    since they were read are skipped here, in the same statement. A lease is its own
    unit of work: a request that fails after it leaves a lease that expires, or that its
    holder gets back on their next call.
    """
    now = utcnow()
    expires_at = now + timedelta(seconds=seconds)
    dialect = session.get_bind().dialect.name
    pick = (
        select(
            Image.id,
            Image.project_id,
            literal(user_id),
            literal(mode.value),
            literal(expires_at, UTCDateTime()),
        )
        .where(Image.id.in_(candidates), eligible, ~held_by_others(user_id, now))
        .order_by(_position(dialect, candidates))
        .limit(1)
        # PostgreSQL: pass over images another transaction is claiming or labeling right
        # now instead of queueing behind it (SQLite has no row locks and ignores this).
        .with_for_update(of=Image, skip_locked=True)
    )
    # A Core statement on the table: an ORM-enabled INSERT goes through the ORM's bulk
    # machinery, milliseconds of Python on every call of queue/next.
    table = Lease.metadata.tables[Lease.__tablename__]
    claim = (
        upsert(session, table)
        .from_select(["image_id", "project_id", "user_id", "mode", "expires_at"], pick)
        .on_conflict_do_update(
            index_elements=[table.c.image_id],
            set_={"user_id": user_id, "mode": mode, "expires_at": expires_at},
            # The row exists: take it over only if its lease ran out or is ours already.
            where=or_(table.c.expires_at <= now, table.c.user_id == user_id),
        )
        .returning(table.c.image_id)
    )
    with on_its_own(session):
        image_id = session.scalar(claim)
    return None if image_id is None else (image_id, expires_at)


def _position(dialect: str, candidates: Sequence[int]) -> ColumnElement[int]:
    """Where each image stands in the candidates' list, in one bound parameter.

    The candidates come in the queue's order, whatever made it (ids, a ranking, a
    confidence); the claim must keep it. A CASE with a branch per candidate would say
    the same, but costs a millisecond to build on every call.
    """
    if dialect == "postgresql":
        ids = bindparam("candidate_order", list(candidates), type_=postgresql.ARRAY(Integer))
        return func.array_position(ids, Image.id)
    listed = "," + ",".join(str(int(i)) for i in candidates) + ","
    return func.instr(listed, "," + cast(Image.id, String) + ",")


def release(session: Session, user_id: int, image_ids: Iterable[int]) -> dict[int, QueueMode]:
    """Release the user's leases on these images (expired ones too): for each image they
    held, the queue it was served from, which tells a decision whether it was a review."""
    ids = list(image_ids)
    if not ids:
        return {}
    rows = session.execute(
        delete(Lease)
        .where(Lease.user_id == user_id, Lease.image_id.in_(ids))
        .returning(Lease.image_id, Lease.mode)
    )
    return {image_id: QueueMode(mode) for image_id, mode in rows}


def held_by_others(user_id: int, now: datetime | None = None) -> ColumnElement[bool]:
    """A condition on ``Image``: someone else holds a live lease on it."""
    return exists(
        select(Lease.image_id).where(
            Lease.image_id == Image.id,
            Lease.expires_at > (now or utcnow()),
            Lease.user_id != user_id,
        )
    )
