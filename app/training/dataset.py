"""The training set of a run: labeled, not rejected images, their labels at one level.

A deeper label rolls up to its ancestor at the level; a label above the level is left
out and counted; so is every class with fewer than ``MIN_PER_CLASS`` examples, since
neither cross-validation nor a held-out split can judge a class seen once.

A project may keep a share of its labeled images as a test split (``Project.test_share``):
they are left out of ``image_ids`` (what a run trains and tunes on) and listed apart, for
the worker to score the final model on once.
"""

from __future__ import annotations

import hashlib
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
    # The project's test split, in the run's classes only; never trained or tuned on.
    test_image_ids: list[int] = field(default_factory=list)
    test_labels: list[int] = field(default_factory=list)
    test_share: float = 0.0

    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "above_level": self.above_level,
            "small_classes": self.small_classes,
            "min_per_class": MIN_PER_CLASS,
            "per_class": dict(Counter(self.labels)),
        }
        if self.test_share > 0:
            report["test_images"] = len(self.test_image_ids)
            report["test_share"] = self.test_share
        return report


def in_test_split(project_id: int, sha256: str, share: float) -> bool:
    """Whether an image belongs to its project's test split.

    Membership is a keyed hash of the image's content (its sha256), read as a number in
    [0, 1) and compared with the share. Nothing else enters it: not the other images,
    not their count, not the label. So as labels grow an image never moves from test to
    train (a run never learns from a picture an earlier run was tested on), a relabel
    does not move it either, and the split stays stratified in expectation, since the
    hash is independent of the class: every class gives about ``share`` of its images.
    The cost is that a small class may give a few more or fewer than its exact share.
    The project id is the key, so one photo uploaded to two projects is not forced to
    the same side in both. Raising the share only adds images to the test split;
    lowering it only returns some to training.
    """
    if share <= 0:
        return False
    digest = hashlib.sha256(f"curator-test-split:{project_id}:{sha256}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


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
        select(Image.id, Image.category_id, latest, Image.sha256)
        .where(
            Image.project_id == project.id,
            Image.status == ImageStatus.labeled,
            Image.category_id.is_not(None),
        )
        .order_by(Image.id)
    ).all()
    picked: list[tuple[int, int, int]] = []
    tested: list[tuple[int, int]] = []
    share = float(project.test_share or 0.0)
    above = 0
    for image_id, category_id, annotation_id, sha256 in rows:
        class_id = classes_of.get(category_id)
        if class_id is None:
            above += 1
        elif in_test_split(project.id, sha256, share):
            tested.append((image_id, class_id))
        else:
            picked.append((image_id, annotation_id or 0, class_id))
    # A class needs its minimum in the training part: the test part is never trained on.
    counts = Counter(class_id for _, _, class_id in picked)
    counts.update({class_id: 0 for _, class_id in tested})
    names = {cid: "/".join(tree.path(tree.by_id[cid])) for cid in counts}
    kept = {cid for cid, n in counts.items() if n >= MIN_PER_CLASS}
    data = Dataset(
        above_level=above,
        small_classes={names[cid]: n for cid, n in counts.items() if cid not in kept},
        test_share=share,
        last_annotation_id=session.scalar(
            select(func.max(Annotation.id)).where(Annotation.project_id == project.id)
        ),
    )
    for image_id, annotation_id, class_id in picked:
        if class_id in kept:
            data.image_ids.append(image_id)
            data.annotation_ids.append(annotation_id)
            data.labels.append(class_id)
    for image_id, class_id in tested:
        if class_id in kept:
            data.test_image_ids.append(image_id)
            data.test_labels.append(class_id)
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
