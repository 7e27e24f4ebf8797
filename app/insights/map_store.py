"""The embedding map's rows, as the worker writes them (no commit here: the worker
commits a whole refit, or a whole batch of placed images, at once)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.insights.models import EmbeddingMap, EmbeddingMapPoint

_ROWS = 10_000  # rows per INSERT: bounded statements on every backend


def current(session: Session, project_id: int) -> EmbeddingMap | None:
    return session.get(EmbeddingMap, project_id)


def point_ids(session: Session, project_id: int) -> set[int]:
    query = select(EmbeddingMapPoint.image_id).where(EmbeddingMapPoint.project_id == project_id)
    return set(session.scalars(query))


def placed_count(session: Session, project_id: int) -> int:
    query = select(func.count()).where(
        EmbeddingMapPoint.project_id == project_id, EmbeddingMapPoint.placed.is_(True)
    )
    return session.scalar(query) or 0


def _insert(
    session: Session,
    project_id: int,
    image_ids: Sequence[int],
    coords: Sequence[tuple[float, float]],
    placed: bool,
) -> None:
    rows = [
        {"image_id": i, "project_id": project_id, "x": x, "y": y, "placed": placed}
        for i, (x, y) in zip(image_ids, coords, strict=True)
    ]
    for start in range(0, len(rows), _ROWS):
        session.execute(insert(EmbeddingMapPoint), rows[start : start + _ROWS])


def replace(
    session: Session,
    project_id: int,
    backbone: str,
    layout_file: str,
    image_ids: Sequence[int],
    coords: Sequence[tuple[float, float]],
) -> str | None:
    """A new fit: every point anew, the map row pointing at its layout; returns the
    layout file it replaced (to remove once this commits)."""
    old = current(session, project_id)
    previous = old.layout_file if old is not None else None
    session.execute(delete(EmbeddingMapPoint).where(EmbeddingMapPoint.project_id == project_id))
    _insert(session, project_id, image_ids, coords, placed=False)
    if old is None:
        session.add(
            EmbeddingMap(
                project_id=project_id,
                backbone=backbone,
                layout_file=layout_file,
                fitted=len(image_ids),
                fitted_at=utcnow(),
            )
        )
    else:
        old.backbone = backbone
        old.layout_file = layout_file
        old.fitted = len(image_ids)
        old.fitted_at = utcnow()
    session.flush()
    return previous


def add(
    session: Session,
    project_id: int,
    image_ids: Sequence[int],
    coords: Sequence[tuple[float, float]],
) -> None:
    """Images placed into the fitted map."""
    _insert(session, project_id, image_ids, coords, placed=True)
    session.flush()
