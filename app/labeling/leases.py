"""Leases: which labeler holds which image, taken and given back atomically.

A claim is one upsert on the image's lease row that only takes over a row that has
expired or that the caller already holds. The database decides between two claims,
not a read followed by a write, so it holds on PostgreSQL (row locks) and on SQLite
(one writer at a time) alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, exists, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db import utcnow
from app.images.models import Image
from app.labeling.models import Lease, QueueMode


def claim(
    session: Session, *, image: Image, user_id: int, mode: QueueMode, seconds: int
) -> datetime | None:
    """Lease the image to the user; the expiry, or None if someone else holds it."""
    now = utcnow()
    expires_at = now + timedelta(seconds=seconds)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Lease).values(
        image_id=image.id,
        project_id=image.project_id,
        user_id=user_id,
        mode=mode,
        expires_at=expires_at,
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=[Lease.image_id],
        set_={
            "user_id": stmt.excluded.user_id,
            "mode": stmt.excluded.mode,
            "expires_at": stmt.excluded.expires_at,
        },
        where=or_(Lease.expires_at <= now, Lease.user_id == user_id),
    ).returning(Lease.image_id)
    return expires_at if session.execute(upsert).first() is not None else None


def drop_expired(session: Session, project_id: int) -> None:
    """Return expired leases to the pool.

    Also the first write of ``queue/next``: on SQLite it takes the write lock before
    anything is read, so the reads that follow see every committed claim.
    """
    session.execute(
        delete(Lease).where(Lease.project_id == project_id, Lease.expires_at <= utcnow())
    )


def give_back(session: Session, user_id: int, image_id: int) -> QueueMode | None:
    """Release the user's lease on one image; the queue it came from, if it was held."""
    row = session.execute(
        delete(Lease)
        .where(Lease.image_id == image_id, Lease.user_id == user_id)
        .returning(Lease.mode)
    ).first()
    return None if row is None else QueueMode(row[0])


def release(session: Session, user_id: int, image_ids: Iterable[int]) -> None:
    ids = list(image_ids)
    if ids:
        session.execute(delete(Lease).where(Lease.user_id == user_id, Lease.image_id.in_(ids)))


def held_by_others(user_id: int) -> ColumnElement[bool]:
    """A condition on ``Image``: someone else holds a live lease on it."""
    return exists(
        select(Lease.image_id).where(
            Lease.image_id == Image.id, Lease.expires_at > utcnow(), Lease.user_id != user_id
        )
    )
