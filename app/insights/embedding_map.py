"""The embedding map as the API reads it: every point of a project, the run that colours
it, and how many embedded images wait for a place. The points come from the worker's fit
(``map_store``); a run only changes the colours (``map_columns``), never a place."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.images.models import Image
from app.insights.models import EmbeddingMapPoint
from app.projects.models import Project
from app.training.models import Embedding
from app.training.service import latest_model


@dataclass(frozen=True)
class MapPoint:
    image_id: int
    x: float
    y: float


def newest_run_id(session: Session, project: Project) -> int | None:
    run = latest_model(session, project.id)
    return run.id if run is not None else None


def points(session: Session, project: Project) -> list[MapPoint]:
    rows = session.execute(
        select(EmbeddingMapPoint.image_id, EmbeddingMapPoint.x, EmbeddingMapPoint.y)
        .where(EmbeddingMapPoint.project_id == project.id)
        .order_by(EmbeddingMapPoint.image_id)
    )
    return [MapPoint(int(i), float(x), float(y)) for i, x, y in rows]


def waiting(session: Session, project: Project) -> int:
    """Embedded images without a point: the map is being made or extended."""
    on_map = select(EmbeddingMapPoint.image_id).where(
        EmbeddingMapPoint.image_id == Embedding.image_id
    )
    count = session.scalar(
        select(func.count())
        .select_from(Embedding)
        .join(Image, Image.id == Embedding.image_id)
        .where(
            Image.project_id == project.id,
            Embedding.backbone == project.backbone,
            Embedding.error.is_(None),
            ~on_map.exists(),
        )
    )
    return int(count or 0)
