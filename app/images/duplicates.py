"""Near duplicates: images whose perceptual hashes differ by a few bits share a group.

A group's id is the id of its first image. Grouping is incremental: only images not yet
checked are compared, each against the whole project (a vectorised XOR and popcount,
about a second for 10,000 new images against 100,000), and groups they bridge merge.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.errors import Conflict, NotFound
from app.images.models import Image, ImageStatus
from app.labeling import service as labeling
from app.labeling.models import AnnotationSource
from app.projects.models import Project

_BLOCK = 512  # new images compared at once: 512 x 100,000 distances is 51 MB


class _Groups:
    """Union-find whose root is always the smallest id: the group's id."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent.setdefault(x, x)
        if parent != x:
            parent = self.parent[x] = self.find(parent)
        return parent

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _as_uint64(hexes: list[str]) -> np.ndarray:
    return np.array([int(h, 16) for h in hexes], dtype=np.uint64)


def group_new_images(session: Session, project_id: int, max_distance: int) -> int:
    """Group the project's unchecked images; returns how many images changed group."""
    # Serialises grouping per project (a row lock on PostgreSQL; SQLite has one writer).
    session.execute(select(Project.id).where(Project.id == project_id).with_for_update())
    new = session.execute(
        select(Image.id, Image.phash).where(
            Image.project_id == project_id, Image.dup_checked.is_(False)
        )
    ).all()
    if not new:
        return 0
    rows = session.execute(
        select(Image.id, Image.phash, Image.dup_group_id).where(Image.project_id == project_id)
    ).all()
    ids = np.array([r.id for r in rows], dtype=np.int64)
    hashes = _as_uint64([r.phash for r in rows])
    current = {r.id: r.dup_group_id for r in rows}
    groups = _Groups()
    for r in rows:
        if r.dup_group_id is not None:
            groups.union(r.id, r.dup_group_id)
    for start in range(0, len(new), _BLOCK):
        block = new[start : start + _BLOCK]
        block_ids = np.array([r.id for r in block], dtype=np.int64)
        distances = np.bitwise_count(_as_uint64([r.phash for r in block])[:, None] ^ hashes)
        for i, j in np.argwhere(distances <= max_distance):
            if block_ids[i] != ids[j]:
                groups.union(int(block_ids[i]), int(ids[j]))
    members: dict[int, list[int]] = defaultdict(list)
    for image_id in list(groups.parent):
        members[groups.find(image_id)].append(image_id)
    changes = [
        {"id": m, "dup_group_id": root}
        for root, group in members.items()
        if len(group) > 1
        for m in group
        if current.get(m) != root
    ]
    if changes:
        session.execute(update(Image), changes)
    session.execute(
        update(Image)
        .where(Image.project_id == project_id, Image.id.in_([r.id for r in new]))
        .values(dup_checked=True)
        .execution_options(synchronize_session=False)
    )
    return len(changes)


def count_groups(session: Session, project_id: int) -> int:
    return (
        session.scalar(
            select(func.count(func.distinct(Image.dup_group_id))).where(
                Image.project_id == project_id, Image.dup_group_id.is_not(None)
            )
        )
        or 0
    )


def list_groups(session: Session, project_id: int, limit: int, offset: int) -> list[list[Image]]:
    """A page of groups, oldest first, each with its images in id order."""
    group_ids: list[int] = list(
        session.scalars(
            select(func.coalesce(Image.dup_group_id, 0))
            .where(Image.project_id == project_id, Image.dup_group_id.is_not(None))
            .group_by(Image.dup_group_id)
            .order_by(Image.dup_group_id)
            .limit(limit)
            .offset(offset)
        )
    )
    images = session.scalars(
        select(Image)
        .where(Image.project_id == project_id, Image.dup_group_id.in_(group_ids))
        .order_by(Image.id)
    )
    by_group: dict[int, list[Image]] = {g: [] for g in group_ids}
    for image in images:
        by_group[image.dup_group_id or 0].append(image)
    return list(by_group.values())


def keep_one(session: Session, keep: Image, user_id: int) -> int:
    """Keep ``keep`` and reject the rest of its group in one action; returns how many."""
    if keep.dup_group_id is None:
        return 0
    others = session.scalars(
        select(Image).where(
            Image.project_id == keep.project_id,
            Image.dup_group_id == keep.dup_group_id,
            Image.id != keep.id,
            Image.status != ImageStatus.rejected,
        )
    ).all()
    for image in others:
        labeling.annotate(
            session,
            image,
            user_id,
            rejected=True,
            reason=f"duplicate of image {keep.id}",
            source=AnnotationSource.duplicates,
        )
    if keep.status is ImageStatus.rejected:
        labeling.annotate(session, keep, user_id, source=AnnotationSource.duplicates)
    return len(others)


def image_in_group(session: Session, project: Project, group_id: int, image_id: int) -> Image:
    if project.archived:
        raise Conflict("The project is archived; restore it to change its images.")
    image = session.get(Image, image_id)
    if image is None or image.project_id != project.id or image.dup_group_id != group_id:
        raise NotFound(f"Image {image_id} is not in duplicate group {group_id} of this project.")
    return image
