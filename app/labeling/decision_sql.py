"""The two statements of a decision about one image, prepared (``app.labeling.prepared``):
what it reads first (``facts``: one round trip) and its row's INSERT (``insert``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Executable, Select, bindparam, exists, literal, select
from sqlalchemy.orm import Session, make_transient_to_detached

from app.db import upsert, utcnow
from app.images.models import Image
from app.labeling.models import Annotation, AnnotationSource, BulkRequest, Lease, Overlap, QueueMode
from app.labeling.prepared import prepared
from app.labeling.schemas import Decision
from app.taxonomy.models import Category


@dataclass(frozen=True)
class Facts:
    key_used: bool  # by one of the user's annotations
    key_used_in_bulk: bool
    category_ok: bool  # no category, or one of the project's
    in_overlap: bool  # the image has an overlap row
    held_from: QueueMode | None  # the queue of the user's lease on the image


def _facts_query(with_key: bool, with_category: bool) -> Select[Any]:
    no, yes = literal(False), literal(True)
    user_id: BindParameter[int] = bindparam("user_id")
    key: BindParameter[str] = bindparam("key")
    image_id: BindParameter[int] = bindparam("image_id")
    return select(
        exists().where(Annotation.user_id == user_id, Annotation.idempotency_key == key)
        if with_key
        else no,
        exists().where(BulkRequest.user_id == user_id, BulkRequest.idempotency_key == key)
        if with_key
        else no,
        exists().where(
            Category.id == bindparam("category_id"), Category.project_id == bindparam("project_id")
        )
        if with_category
        else yes,
        exists().where(Overlap.image_id == image_id),
        select(Lease.mode)
        .where(Lease.image_id == image_id, Lease.user_id == user_id)
        .scalar_subquery(),
    )


def facts(
    session: Session,
    user_id: int,
    project_id: int,
    image_id: int,
    category_id: int | None,
    key: str | None,
) -> Facts:
    """Everything a decision about one image reads before it writes, in one round trip:
    every labeling decision pays for this, and each statement costs about a
    millisecond of Python."""
    shape = (key is not None, category_id is not None)
    query = prepared(("decisions.facts", *shape), _facts_query, *shape)
    values: dict[str, object] = {
        "user_id": user_id,
        "project_id": project_id,
        "image_id": image_id,
    }
    if key is not None:
        values["key"] = key
    if category_id is not None:
        values["category_id"] = category_id
    row = session.execute(query, values).one()
    mode = row[4]
    return Facts(
        key_used=bool(row[0]),
        key_used_in_bulk=bool(row[1]),
        category_ok=bool(row[2]),
        in_overlap=bool(row[3]),
        held_from=None if mode is None else QueueMode(mode),
    )


def _insert_query(session: Session, key: str | None) -> Executable:
    table = Annotation.metadata.tables[Annotation.__tablename__]
    stmt = upsert(session, table).values({name: bindparam(name) for name in INSERTED})
    if key is not None:
        stmt = stmt.on_conflict_do_nothing(
            index_elements=[table.c.user_id, table.c.idempotency_key]
        )
    return stmt.returning(table.c.id)


INSERTED = ("project_id", "image_id", "user_id", "category_id", "rejected", "reason", "source",
            "second_opinion", "idempotency_key", "created_at")  # fmt: skip


def insert(
    session: Session,
    image: Image,
    user_id: int,
    decision: Decision,
    kind: tuple[AnnotationSource, bool],
    key: str | None,
) -> Annotation | None:
    """Append the decision's row; None if a concurrent retry stored this key first.

    ON CONFLICT DO NOTHING rather than a savepoint: the unique key decides between two
    retries in this one statement, and a conflict leaves the transaction usable.
    """
    source, second_opinion = kind
    values = {
        "project_id": image.project_id,
        "image_id": image.id,
        "user_id": user_id,
        "category_id": decision.category_id,
        "rejected": decision.rejected,
        "reason": decision.reason if decision.rejected else None,
        "source": source,
        "second_opinion": second_opinion,
        "idempotency_key": key,
        "created_at": utcnow(),
    }
    # A Core INSERT on the table: the ORM's bulk machinery for an entity INSERT costs
    # milliseconds of Python on this path, and the row's values are all known here.
    dialect = session.get_bind().dialect.name
    stmt = prepared(("decisions.insert", dialect, key is not None), _insert_query, session, key)
    annotation_id = session.scalar(stmt, values)
    if annotation_id is None:
        return None
    annotation = Annotation(id=annotation_id, undoes_id=None, bulk_request_id=None, **values)
    make_transient_to_detached(annotation)  # the stored row, known without reading it back
    session.add(annotation)
    return annotation
