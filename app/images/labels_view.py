"""Read-only shapes of images for the pages: an image's label as a category path, and
the tiles of the grids. A tile's prediction is filled in above training (app.browse);
these shapes know nothing of models."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.images.models import Image, ImageStatus
from app.images.storage import THUMBNAIL_SIZE
from app.projects.models import Project
from app.taxonomy.service import Tree, load_tree


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

    def tile(self, image: Image, prediction: TilePrediction | None = None) -> Tile:
        scale = min(1.0, THUMBNAIL_SIZE / max(image.width, image.height, 1))
        width = max(1, round(image.width * scale))
        height = max(1, round(image.height * scale))
        return Tile(image, self.of(image), width, height, prediction)

    def options(self) -> list[CategoryOption]:
        return [CategoryOption(n.category.id, n.path, n.depth) for n in self.tree.depth_first()]


def labels_of(session: Session, project: Project) -> Labels:
    return Labels(load_tree(session, project))
