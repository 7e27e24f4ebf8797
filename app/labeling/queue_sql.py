"""The label queue's two statements, prepared (see ``app.labeling.prepared``).

Most ``queue/next`` calls are the plain label queue in its own order: no ranking to
follow yet, or a labeler on "sequential". Its candidates and its claim have one shape
per dialect and per "is overlap on" (second labels are a second pool), so they are
built once, with every value a parameter: ``project_id``, ``user_id``, ``now``,
``expires_at``, ``mode``, ``exclude`` and the candidates. The other queues build their
statements per call (``app.labeling.next_image``); both read the same conditions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app.db import UTCDateTime, upsert, utcnow
from app.images.models import Image, ImageStatus
from app.labeling.autocommit import on_its_own
from app.labeling.models import Lease, Overlap, OverlapState, QueueMode
from app.labeling.prepared import prepared

CANDIDATES = 20  # as app.labeling.next_image.CANDIDATES


def _user() -> BindParameter[int]:
    return bindparam("user_id", type_=Integer)


def _now() -> BindParameter[datetime]:
    return bindparam("now", type_=UTCDateTime())


def _free(excluding: bool) -> list[ColumnElement[bool]]:
    """Not held by someone else's live lease, not excluded by the caller. (No exclusion
    without ids: an empty NOT IN renders as a subquery that SQLite scans.)"""
    held = exists(
        select(Lease.image_id).where(
            Lease.image_id == Image.id, Lease.expires_at > _now(), Lease.user_id != _user()
        )
    )
    if not excluding:
        return [~held]
    return [~held, Image.id.notin_(bindparam("exclude", expanding=True))]


def _unlabeled() -> ColumnElement[bool]:
    return Image.status == ImageStatus.unlabeled


def _second_labels() -> ColumnElement[bool]:
    return Image.id.in_(
        select(Overlap.image_id).where(
            Overlap.project_id == bindparam("project_id"),
            Overlap.state == OverlapState.pending,
            Overlap.first_user_id != _user(),  # never the same labeler twice
        )
    )


def _candidates_query(second: bool, excluding: bool) -> Select[Any]:
    pool = _second_labels() if second else _unlabeled()
    where = [pool, Image.project_id == bindparam("project_id"), *_free(excluding)]
    return select(Image.id).where(*where).order_by(Image.id).limit(CANDIDATES)


def candidates(
    session: Session, project_id: int, user_id: int, overlap: bool, exclude: set[int], now: datetime
) -> list[int]:
    """The first free images of the label queue, by id: unlabeled ones and, when overlap
    is on, images waiting for a second label from someone else."""
    values = {"project_id": project_id, "user_id": user_id, "now": now, "exclude": list(exclude)}
    found: set[int] = set()
    for second in (False, True) if overlap else (False,):
        shape = (second, bool(exclude))
        query = prepared(("queue.candidates", *shape), _candidates_query, *shape)
        found.update(session.scalars(query, values))
    return sorted(found)


def _position(dialect: str) -> ColumnElement[int]:
    """Where each image stands in the candidates' list (see ``leases._position``)."""
    if dialect == "postgresql":
        ids = bindparam("candidate_order", type_=postgresql.ARRAY(Integer))
        return func.array_position(ids, Image.id)
    listed = bindparam("listed", type_=String)
    return func.instr(listed, "," + cast(Image.id, String) + ",")


def _claim_query(session: Session, dialect: str, overlap: bool, excluding: bool) -> Executable:
    eligible = or_(_unlabeled(), _second_labels()) if overlap else _unlabeled()
    expires_at = bindparam("expires_at", type_=UTCDateTime())
    pick = (
        select(Image.id, Image.project_id, _user(), bindparam("mode", type_=String), expires_at)
        .where(
            Image.id.in_(bindparam("candidates", expanding=True)),
            eligible,
            *_free(excluding),
        )
        .order_by(_position(dialect))
        .limit(1)
        .with_for_update(of=Image, skip_locked=True)
    )
    table = Lease.metadata.tables[Lease.__tablename__]
    return (
        upsert(session, table)
        .from_select(["image_id", "project_id", "user_id", "mode", "expires_at"], pick)
        .on_conflict_do_update(
            index_elements=[table.c.image_id],
            set_={
                "user_id": bindparam("set_user", type_=Integer),
                "mode": bindparam("set_mode", type_=String),
                "expires_at": bindparam("set_expires", type_=UTCDateTime()),
            },
            where=or_(table.c.expires_at <= _now(), table.c.user_id == _user()),
        )
        .returning(table.c.image_id)
    )


def claim(
    session: Session,
    candidate_ids: Sequence[int],
    *,
    project_id: int,
    user_id: int,
    overlap: bool,
    exclude: set[int],
    mode: QueueMode,
    now: datetime,
    expires_at: datetime,
) -> int | None:
    """``leases.claim_first`` for the label queue: the first of the candidates that is
    still in it and free, leased to the user; its id, or None."""
    dialect = session.get_bind().dialect.name
    shape = (dialect, overlap, bool(exclude))
    stmt = prepared(("queue.claim", *shape), _claim_query, session, *shape)
    values: dict[str, object] = {
        "candidates": list(candidate_ids),
        "project_id": project_id,
        "user_id": user_id,
        "set_user": user_id,
        "mode": mode.value,
        "set_mode": mode.value,
        "expires_at": expires_at,
        "set_expires": expires_at,
        "now": now,
        "exclude": list(exclude),
    }
    if dialect == "postgresql":
        values["candidate_order"] = list(candidate_ids)
    else:
        values["listed"] = "," + ",".join(str(int(i)) for i in candidate_ids) + ","
    with on_its_own(session):
        image_id: int | None = session.scalar(stmt, values)
    return image_id


# A claim's outcome: the image and its lease's expiry; False: every candidate was taken
# since it was read (read again); None: the queue is empty.
Claimed = tuple[int, datetime] | Literal[False] | None


def claim_plain(
    session: Session,
    project_id: int,
    user_id: int,
    overlap: bool,
    mode: QueueMode,
    exclude: set[int],
    lease_seconds: int,
) -> Claimed:
    """One round of the label queue: read its first free images, lease the first one."""
    now = utcnow()
    found = candidates(session, project_id, user_id, overlap, exclude, now)
    if not found:
        return None
    expires_at = now + timedelta(seconds=lease_seconds)
    image_id = claim(
        session, found, project_id=project_id, user_id=user_id, overlap=overlap,
        exclude=exclude, mode=mode, now=now, expires_at=expires_at,
    )  # fmt: skip
    return False if image_id is None else (image_id, expires_at)


class ServedImage(NamedTuple):
    """What ``queue/next`` shows of the image it leased: a tuple, not an ORM object
    (loading an ``Image`` into the session cost more than the claim itself)."""

    id: int
    filename: str
    width: int
    height: int
    category_id: int | None


def _served_query() -> Select[int, str, int, int, int | None]:
    wanted = bindparam("image_id", type_=Integer)
    columns = (Image.id, Image.filename, Image.width, Image.height, Image.category_id)
    return select(*columns).where(Image.id == wanted)


def served_image(session: Session, image_id: int) -> ServedImage:
    row = session.execute(prepared("queue.served", _served_query), {"image_id": image_id}).one()
    return ServedImage(*row)
