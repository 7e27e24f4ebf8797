"""The near-duplicate groups page: each group's tiles, a page of groups at a time."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.images import duplicates
from app.images.labels_view import Tile, labels_of
from app.projects.models import Project

GROUPS_PER_PAGE = 20


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
