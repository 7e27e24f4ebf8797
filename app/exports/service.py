"""The queries behind an export: which images, under which class, in which split.

Two passes over the project's labeled images, both streamed with ``yield_per``. The
plan (`build_plan`) reads only ids, labels and duplicate groups, and keeps one small
entry per exported image: its class and split. The rows (`iter_rows`) then bring the
file metadata and the annotation that set each label, one batch at a time, for the writers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.exports import split
from app.exports.options import ExportOptions
from app.images.models import Image, ImageStatus
from app.labeling.models import Annotation
from app.projects.models import Project
from app.taxonomy.models import Category
from app.taxonomy.service import Tree, check_level, class_map, load_tree

BATCH = 1000
NO_SPLIT = 3  # the split code of an export without a split


@dataclass
class Plan:
    project: Project
    options: ExportOptions
    tree: Tree
    classes: dict[int, list[str]]  # class id -> its path of names, every possible class
    # image id -> class id * 4 + split code: two small ints per image, packed in one.
    assigned: dict[int, int] = field(default_factory=dict)
    left_out: Counter[str] = field(default_factory=Counter)

    def lookup(self, image_id: int) -> tuple[int, int] | None:
        packed = self.assigned.get(image_id)
        return None if packed is None else divmod(packed, 4)

    @property
    def total(self) -> int:
        return len(self.assigned)


def build_plan(session: Session, project: Project, options: ExportOptions) -> Plan:
    tree = load_tree(session, project)
    check_level(tree, options.level)
    classes_of = class_map(tree, options.level)
    plan = Plan(
        project,
        options,
        tree,
        {c: tree.path(tree.by_id[c]) for c in set(classes_of.values()) if c is not None},
    )
    for status, count in session.execute(
        select(Image.status, func.count())
        .where(Image.project_id == project.id, Image.status != ImageStatus.labeled)
        .group_by(Image.status)
    ):
        plan.left_out[ImageStatus(status).value] = count
    groups: dict[int, list[int]] = {}  # near-duplicate group id -> its exported images
    rows = session.execute(
        select(Image.id, Image.category_id, Image.dup_group_id)
        .where(Image.project_id == project.id, Image.status == ImageStatus.labeled)
        .order_by(Image.id)
        .execution_options(yield_per=BATCH)
    )
    for image_id, category_id, group_id in rows:
        class_id = classes_of.get(category_id) if category_id is not None else None
        if class_id is None:
            plan.left_out["above_level"] += 1
            continue
        plan.assigned[image_id] = class_id * 4 + NO_SPLIT
        if group_id is not None:
            groups.setdefault(group_id, []).append(image_id)
    if options.split:
        _split(plan, groups)
    return plan


def _split(plan: Plan, groups: dict[int, list[int]]) -> None:
    """Give each image its split; a group is one unit, keyed by its negated id."""
    assigned = plan.assigned
    grouped = {image_id for members in groups.values() for image_id in members}
    units = [
        split.Unit(-gid, split.group_class(assigned[i] // 4 for i in members), len(members))
        for gid, members in groups.items()
    ]
    units += [split.Unit(i, packed // 4) for i, packed in assigned.items() if i not in grouped]
    for key, code in split.assign(units, plan.options.ratios, plan.options.seed).items():
        for image_id in groups[-key] if key < 0 else (key,):
            assigned[image_id] = assigned[image_id] // 4 * 4 + code


@dataclass(frozen=True)
class Row:
    id: int
    filename: str
    sha256: str
    format: str
    width: int
    height: int
    size_bytes: int
    source: str | None
    annotator: str | None
    annotated_at: datetime | None


def iter_rows(session: Session, project_id: int) -> Iterator[Row]:
    """The labeled images with the annotation that set their label, by id, a batch at a time."""
    # A later second opinion did not change the label: it must not be reported as its author.
    latest = (
        select(Annotation.image_id, func.max(Annotation.id).label("annotation_id"))
        .where(Annotation.project_id == project_id, Annotation.second_opinion.is_(False))
        .group_by(Annotation.image_id)
        .subquery()
    )
    stmt = (
        select(
            Image.id,
            Image.filename,
            Image.sha256,
            Image.format,
            Image.width,
            Image.height,
            Image.size_bytes,
            Annotation.source,
            User.username,
            Annotation.created_at,
        )
        .where(Image.project_id == project_id, Image.status == ImageStatus.labeled)
        .outerjoin(latest, latest.c.image_id == Image.id)
        .outerjoin(Annotation, Annotation.id == latest.c.annotation_id)
        .outerjoin(User, User.id == Annotation.user_id)
        .order_by(Image.id)
        .execution_options(yield_per=BATCH)
    )
    for r in session.execute(stmt):
        source = r.source.value if r.source is not None else None
        yield Row(
            r.id, r.filename, r.sha256, r.format, r.width, r.height, r.size_bytes,
            source, r.username, r.created_at,
        )  # fmt: skip


def categories_at(plan: Plan) -> list[Category]:
    """The classes an export can have, parents first: every node, or those at the level."""
    nodes = plan.tree.depth_first()
    level = plan.options.level
    return [n.category for n in nodes if level is None or n.depth == level]
