"""Restore an SQLite backup into PostgreSQL: how a `make run` install moves to a server.

pg_restore cannot read an SQLite file, so the rows are copied through SQLAlchemy: the
snapshot is first migrated to this Curator's head (it is a staged copy, nothing else
sees it), the target gets the same schema from the migrations, and then every table is
copied in foreign-key order, reading each column through the models' own types so that
SQLite's text timestamps, 0/1 booleans and JSON text arrive as PostgreSQL values.
Ids are copied as they are (every row that names another keeps naming it), so each
sequence is then moved past the highest id: the first row added after the move gets a
fresh id instead of colliding with a copied one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, Table, bindparam, create_engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

import app.models  # noqa: F401 - every model's table in Base.metadata
from app.db import Base
from app.migrate import upgrade
from app.ops.target import TargetError

_BATCH = 2000


def _self_references(table: Table) -> list[str]:
    """Columns naming a row of the same table (a category's parent, an undone label)."""
    return sorted({fk.parent.name for fk in table.foreign_keys if fk.column.table is table})


def _batches(conn: Connection, source: Table, columns: Sequence[str]) -> Iterator[list[Any]]:
    query = select(*(source.c[name] for name in columns))
    order = list(source.primary_key.columns)
    if order:
        query = query.order_by(*order)
    result = conn.execution_options(yield_per=_BATCH).execute(query)
    for part in result.mappings().partitions(_BATCH):
        yield [dict(row) for row in part]


def _copy_table(
    src: Connection, dst: Connection, target: Table, source: Table, stored: Table
) -> int:
    columns = [c.name for c in target.columns if c.name in source.c and c.name in stored.c]
    later = [c for c in _self_references(target) if c in columns]
    keys = [c.name for c in target.primary_key.columns]
    copied = 0
    for rows in _batches(src, source, columns):
        # A row may name one that comes after it: those links are set once all are in.
        dst.execute(target.insert(), [{**r, **dict.fromkeys(later)} for r in rows])
        if later and keys:
            linked = [r for r in rows if any(r[c] is not None for c in later)]
            if linked:
                where = [target.c[k] == bindparam(f"k_{k}") for k in keys]
                update = (
                    target.update().where(*where).values({c: bindparam(f"v_{c}") for c in later})
                )
                dst.execute(
                    update,
                    [
                        {**{f"k_{k}": r[k] for k in keys}, **{f"v_{c}": r[c] for c in later}}
                        for r in linked
                    ],
                )
        copied += len(rows)
    return copied


def _reset_sequences(dst: Connection, tables: Sequence[Table]) -> None:
    for table in tables:
        for column in table.columns:
            sequence = dst.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"),
                {"t": dst.dialect.identifier_preparer.quote(table.name), "c": column.name},
            ).scalar_one()
            if sequence is None:
                continue
            top = dst.execute(select(func.max(column))).scalar_one()
            # is_called=false: the next nextval() returns exactly this value.
            dst.execute(
                text("SELECT setval(:s, :v, false)"),
                {"s": sequence, "v": int(top or 0) + 1},
            )


def sqlite_into_postgresql(snapshot: Path, url: str) -> dict[str, int]:
    """Copy every row of the SQLite ``snapshot`` into the (cleared) PostgreSQL at ``url``.

    Returns rows copied per table. The target's tables must exist and be empty.
    """
    source_url = f"sqlite:///{snapshot.resolve()}"
    try:
        upgrade(source_url)
    except SQLAlchemyError as exc:
        raise TargetError(f"the backup's database could not be brought up to date: {exc}") from exc
    try:
        upgrade(url)
    except SQLAlchemyError as exc:
        raise TargetError(f"cannot create the tables in the target database: {exc}") from exc
    src_engine, dst_engine = create_engine(source_url), create_engine(url)
    counts: dict[str, int] = {}
    try:
        on_target, on_source = MetaData(), MetaData()
        with src_engine.connect() as src, dst_engine.begin() as dst:
            on_target.reflect(dst)
            on_source.reflect(src)
            tables = [t for t in on_target.sorted_tables if t.name != "alembic_version"]
            for table in tables:
                if table.name not in on_source.tables:
                    continue  # a table this Curator has and the backup's did not
                # The models' types read SQLite's stored text as the values they stand for.
                stored = on_source.tables[table.name]
                source = Base.metadata.tables.get(table.name, stored)
                counts[table.name] = _copy_table(src, dst, table, source, stored)
            _reset_sequences(dst, tables)
    except SQLAlchemyError as exc:
        raise TargetError(
            f"copying the rows into PostgreSQL failed, so none were kept: {exc}. Fix the "
            "cause and restore again"
        ) from exc
    finally:
        src_engine.dispose()
        dst_engine.dispose()
    return counts
