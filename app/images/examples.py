"""Example images pinned to a category: the guide the labeling screen shows. No HTTP here.
The pins name images, so they live with the images, above the taxonomy."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from app.images.models import Image
from app.projects.models import Project
from app.taxonomy.models import Category, CategoryExample, ExampleKind
from app.taxonomy.service import check_writable

# A guide is glanced at between two decisions: a dozen of each kind is already plenty.
MAX_PER_KIND = 12

Examples = dict[ExampleKind, list[Image]]


def _empty() -> Examples:
    return {kind: [] for kind in ExampleKind}


def examples_of(session: Session, category_id: int) -> Examples:
    """Oldest pin first, so a guide does not reshuffle each time one is added."""
    return examples_by_category(session, [category_id]).get(category_id, _empty())


def examples_by_category(session: Session, category_ids: list[int]) -> dict[int, Examples]:
    """Every pinned example of these categories, from one query."""
    out: dict[int, Examples] = {}
    rows = session.execute(
        select(CategoryExample.category_id, CategoryExample.kind, Image)
        .join(Image, Image.id == CategoryExample.image_id)
        .where(CategoryExample.category_id.in_(category_ids))
        .order_by(CategoryExample.id)
    )
    for category_id, kind, image in rows:
        out.setdefault(category_id, _empty())[kind].append(image)
    return out


def pin_example(
    session: Session, project: Project, category: Category, image_id: int, kind: ExampleKind
) -> bool:
    """Pin, or switch the kind of an existing pin. True when a new pin was made."""
    check_writable(project)
    image = session.get(Image, image_id)
    if image is None or image.project_id != project.id:
        raise InvalidInput(f"image_id: {image_id} is not an image of this project.")
    pin = session.scalar(
        select(CategoryExample).where(
            CategoryExample.category_id == category.id, CategoryExample.image_id == image_id
        )
    )
    if pin is not None and pin.kind == kind:
        return False
    pinned = session.scalar(
        select(func.count())
        .select_from(CategoryExample)
        .where(CategoryExample.category_id == category.id, CategoryExample.kind == kind)
    )
    if (pinned or 0) >= MAX_PER_KIND:
        raise Conflict(
            f"{category.name!r} already has {MAX_PER_KIND} {kind.value} examples; unpin one first."
        )
    if pin is not None:
        pin.kind = kind
    else:
        session.add(CategoryExample(category_id=category.id, image_id=image_id, kind=kind))
    session.flush()
    return pin is None


def unpin_example(session: Session, project: Project, category: Category, image_id: int) -> None:
    check_writable(project)
    pin = session.scalar(
        select(CategoryExample).where(
            CategoryExample.category_id == category.id, CategoryExample.image_id == image_id
        )
    )
    if pin is None:
        raise NotFound(f"Image {image_id} is not pinned to {category.name!r}.")
    session.delete(pin)
    session.flush()
