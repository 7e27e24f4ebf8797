"""Near-duplicate groups as the gallery reads them (app.imports.near_duplicates forms them).

A group's id is the id of its first image.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.images.models import Image


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
