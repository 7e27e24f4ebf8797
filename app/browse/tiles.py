"""Tiles that also show a model's prediction, and whether it contradicts the label."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.images.labels_view import Labels, Tile, TilePrediction
from app.images.models import Image, ImageStatus
from app.projects.models import Project
from app.training import prediction_queries
from app.training.models import TrainingRun
from app.training.service import latest_model


def prediction(
    labels: Labels, image: Image, shown: prediction_queries.Shown | None
) -> TilePrediction | None:
    if shown is None:
        return None
    labeled = image.status is ImageStatus.labeled and image.category_id is not None
    return TilePrediction(
        labels.path(shown.category_id) or f"category #{shown.category_id}",
        shown.confidence,
        labeled
        and not prediction_queries.agrees(labels.tree, image.category_id or 0, shown.category_id),
    )


def tiles(
    session: Session, project: Project, labels: Labels, images: Sequence[Image]
) -> list[Tile]:
    """Tiles that also show the newest model's prediction."""
    return model_tiles(session, labels, images, latest_model(session, project.id))


def model_tiles(
    session: Session, labels: Labels, images: Sequence[Image], run: TrainingRun | None
) -> list[Tile]:
    """Tiles with ``run``'s predictions (None: no model yet), read in one query."""
    shown = prediction_queries.for_images(session, run.id, [i.id for i in images]) if run else {}
    return [labels.tile(i, prediction(labels, i, shown.get(i.id))) for i in images]
