"""The gallery's page: its tiles with the newest model's predictions, the counts, the
filters' choices and the imports to pick from."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from app.browse.gallery_query import GalleryQuery
from app.browse.tiles import model_tiles
from app.images import service
from app.images.labels_view import CategoryOption, Tile, labels_of
from app.images.models import Image, ImageStatus, ImportBatch
from app.projects.models import Project
from app.training import prediction_queries
from app.training.models import TrainingRun
from app.training.service import latest_model

PAGE_SIZE = 60


@dataclass(frozen=True)
class Gallery:
    tiles: list[Tile]
    total: int
    pages: int
    counts: dict[ImageStatus, int]
    categories: list[CategoryOption]
    batches: list[ImportBatch]
    model: TrainingRun | None  # the newest run that succeeded: what the tiles show


def gallery(session: Session, project: Project, query: GalleryQuery) -> Gallery:
    """One page of the gallery; a category or import of another project is a 404."""
    labels = labels_of(session, project)
    batches = service.list_batches(session, project.id, limit=200)
    if query.batch is not None:
        chosen = service.batch_in_project(session, project, query.batch)
        if chosen not in batches:
            batches.append(chosen)
    run = latest_model(session, project.id)
    images, total = service.list_images(
        session,
        project,
        query.image_filter(),
        sort=query.sort,  # type: ignore[arg-type]  # checked against SORTS by parse
        limit=PAGE_SIZE,
        offset=(query.page - 1) * PAGE_SIZE,
        extra=prediction_extra(session, project, query, run),
    )
    return Gallery(
        tiles=model_tiles(session, labels, images, run),
        total=total,
        pages=max(1, -(-total // PAGE_SIZE)),
        counts=service.status_counts(session, project.id),
        categories=labels.options(),
        batches=batches,
        model=run,
    )


def prediction_extra(
    session: Session, project: Project, query: GalleryQuery, run: TrainingRun | None
) -> list[ColumnElement[bool]]:
    """The gallery's filename search and prediction filters as conditions on images."""
    where: list[ColumnElement[bool]] = []
    if query.q:
        # autoescape: a % or _ typed in the box is that character, not a wildcard. The
        # match reads the (project_id, filename) index, never the image rows themselves.
        where.append(Image.filename.icontains(query.q, autoescape=True))
    wanted = query.prediction_filter()
    if wanted.active:
        where.append(prediction_queries.image_condition(session, project, run, wanted))
    return where
