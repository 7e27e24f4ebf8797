"""Read-only shapes of images for the pages: tiles with their label and prediction, the
gallery's pages, near-duplicate groups, imports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from app.images import duplicates, service
from app.images.gallery_query import GalleryQuery
from app.images.models import BatchStatus, Image, ImageStatus, ImportBatch
from app.images.params import MAX_PAGE as MAX_PAGE
from app.images.params import parse_page as parse_page
from app.images.storage import THUMBNAIL_SIZE
from app.projects.models import Project
from app.taxonomy.service import Tree, load_tree
from app.training import prediction_queries
from app.training.models import TrainingRun
from app.training.service import latest_model

PAGE_SIZE = 60
GROUPS_PER_PAGE = 20
ACTIVE = (BatchStatus.queued, BatchStatus.running)


@dataclass(frozen=True)
class Label:
    """An image's current label as the pages show it: a category path, or a rejection."""

    status: ImageStatus
    path: str | None = None
    color: str | None = None


@dataclass(frozen=True)
class TilePrediction:
    """What the newest model predicts for an image, and whether that contradicts its label."""

    path: str
    confidence: float
    disagrees: bool

    @property
    def title(self) -> str:
        said = f"Model: {self.path}, {self.confidence:.0%} confident"
        return f"{said}; it disagrees with the label" if self.disagrees else said


@dataclass(frozen=True)
class Tile:
    image: Image
    label: Label
    # The thumbnail's own size (at most THUMBNAIL_SIZE), so the grid never reflows.
    width: int
    height: int
    prediction: TilePrediction | None = None


@dataclass(frozen=True)
class CategoryOption:
    id: int
    path: str
    depth: int


@dataclass(frozen=True)
class Labels:
    """Category paths and colors of a project, from one query of its tree."""

    tree: Tree

    def path(self, category_id: int | None) -> str | None:
        if category_id is None or category_id not in self.tree.by_id:
            return None
        return "/".join(self.tree.path(self.tree.by_id[category_id]))

    def of(self, image: Image) -> Label:
        category = self.tree.by_id.get(image.category_id) if image.category_id else None
        return Label(
            image.status,
            self.path(image.category_id),
            category.color if category is not None else None,
        )

    def tile(self, image: Image, shown: prediction_queries.Shown | None = None) -> Tile:
        scale = min(1.0, THUMBNAIL_SIZE / max(image.width, image.height, 1))
        width = max(1, round(image.width * scale))
        height = max(1, round(image.height * scale))
        return Tile(image, self.of(image), width, height, self.prediction(image, shown))

    def prediction(
        self, image: Image, shown: prediction_queries.Shown | None
    ) -> TilePrediction | None:
        if shown is None:
            return None
        labeled = image.status is ImageStatus.labeled and image.category_id is not None
        return TilePrediction(
            self.path(shown.category_id) or f"category #{shown.category_id}",
            shown.confidence,
            labeled
            and not prediction_queries.agrees(self.tree, image.category_id or 0, shown.category_id),
        )

    def options(self) -> list[CategoryOption]:
        return [CategoryOption(n.category.id, n.path, n.depth) for n in self.tree.depth_first()]


def labels_of(session: Session, project: Project) -> Labels:
    return Labels(load_tree(session, project))


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
    return [labels.tile(i, shown.get(i.id)) for i in images]


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
    """The gallery's prediction filters as conditions on images (none when unused)."""
    wanted = query.prediction_filter()
    if not wanted.active:
        return []
    return [prediction_queries.image_condition(session, project, run, wanted)]


@dataclass(frozen=True)
class Group:
    id: int
    tiles: list[Tile]


@dataclass(frozen=True)
class DuplicatesPage:
    groups: list[Group]
    total: int
    pages: int


def duplicate_groups(session: Session, project: Project, page: int) -> DuplicatesPage:
    labels = labels_of(session, project)
    offset = (page - 1) * GROUPS_PER_PAGE
    groups = duplicates.list_groups(session, project.id, GROUPS_PER_PAGE, offset)
    total = duplicates.count_groups(session, project.id)
    return DuplicatesPage(
        groups=[Group(g[0].dup_group_id or 0, [labels.tile(i) for i in g]) for g in groups if g],
        total=total,
        pages=max(1, -(-total // GROUPS_PER_PAGE)),
    )


def any_active(batches: list[ImportBatch]) -> bool:
    return any(b.status in ACTIVE for b in batches)
