"""The training set of a run: labeled, not rejected images, their labels at one level.

A deeper label rolls up to its ancestor at the level; a label above the level is left
out and counted; so is every class with fewer than ``MIN_PER_CLASS`` examples, since
neither cross-validation nor a held-out split can judge a class seen once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.images.models import Image, ImageStatus
from app.labeling.models import Annotation
from app.projects.models import Project
from app.taxonomy.service import check_level, class_map, load_tree

MIN_PER_CLASS = 2
MIN_CLASSES = 2


@dataclass
class Dataset:
    image_ids: list[int] = field(default_factory=list)
    annotation_ids: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)  # class (category id) per image
    classes: list[tuple[int, str]] = field(default_factory=list)  # (category id, path)
    above_level: int = 0
    small_classes: dict[str, int] = field(default_factory=dict)
    last_annotation_id: int | None = None

    def report(self) -> dict[str, Any]:
        return {
            "above_level": self.above_level,
            "small_classes": self.small_classes,
            "min_per_class": MIN_PER_CLASS,
            "per_class": dict(Counter(self.labels)),
        }


def build(session: Session, project: Project, level: int | None) -> Dataset:
    tree = load_tree(session, project)
    check_level(tree, level)
    classes_of = class_map(tree, level)
    # The annotation that set the current label: a later second opinion did not.
    latest = (
        select(func.max(Annotation.id))
        .where(Annotation.image_id == Image.id, Annotation.second_opinion.is_(False))
        .correlate(Image)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Image.id, Image.category_id, latest)
        .where(
            Image.project_id == project.id,
            Image.status == ImageStatus.labeled,
            Image.category_id.is_not(None),
        )
        .order_by(Image.id)
    ).all()
    picked: list[tuple[int, int, int]] = []
    above = 0
    for image_id, category_id, annotation_id in rows:
        class_id = classes_of.get(category_id)
        if class_id is None:
            above += 1
        else:
            picked.append((image_id, annotation_id or 0, class_id))
    counts = Counter(class_id for _, _, class_id in picked)
    names = {cid: "/".join(tree.path(tree.by_id[cid])) for cid in counts}
    kept = {cid for cid, n in counts.items() if n >= MIN_PER_CLASS}
    data = Dataset(
        above_level=above,
        small_classes={names[cid]: n for cid, n in counts.items() if cid not in kept},
        last_annotation_id=session.scalar(
            select(func.max(Annotation.id)).where(Annotation.project_id == project.id)
        ),
    )
    for image_id, annotation_id, class_id in picked:
        if class_id in kept:
            data.image_ids.append(image_id)
            data.annotation_ids.append(annotation_id)
            data.labels.append(class_id)
    data.classes = sorted(((cid, names[cid]) for cid in kept), key=lambda c: c[1])
    return data


def check_trainable(data: Dataset, level: int | None) -> None:
    """Refuse a run that cannot learn anything, saying what is missing."""
    if len(data.classes) >= MIN_CLASSES:
        return
    at = "the deepest labels" if level is None else f"level {level}"
    have = ", ".join(f"{name}: {n}" for name, n in data.small_classes.items())
    ready = ", ".join(name for _, name in data.classes)
    raise InvalidInput(
        f"Training needs at least {MIN_CLASSES} classes with {MIN_PER_CLASS} or more labeled "
        f"images each, at {at}. Ready: {ready or 'none'}."
        + (f" Too few: {have}." if have else "")
        + (f" {data.above_level} label(s) are above this level." if data.above_level else "")
    )
