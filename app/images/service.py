"""Finding images: one image for a user, and the gallery's filtered, sorted pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.errors import NotFound
from app.images.models import Image, ImageStatus, ImportBatch, ImportIssue
from app.projects import service as projects
from app.projects.models import Project
from app.taxonomy import service as taxonomy

Sort = Literal["newest", "oldest", "filename"]
_ORDER = {
    "newest": (Image.id.desc(),),
    "oldest": (Image.id.asc(),),
    "filename": (Image.filename.asc(), Image.id.asc()),
}


@dataclass(frozen=True)
class ImageFilter:
    status: ImageStatus | None = None
    category_id: int | None = None  # with its whole sub-tree
    batch_id: int | None = None
    group_id: int | None = None  # a near-duplicate group
    duplicates_only: bool = False  # images that belong to any group


def _project_of(session: Session, user: User, project_id: int, missing: str) -> Project:
    """The project a row belongs to, if the user may see it; else the row's own 404."""
    return projects.get_project(session, user, project_id, missing=missing)


def get_image(session: Session, user: User, image_id: int) -> tuple[Project, Image]:
    """The image and its project, if the user may see the project; 404 otherwise."""
    # One query for the image, its project and the permission: every annotation, file
    # and thumbnail request starts here.
    query = select(Project, Image).join(Image, Image.project_id == Project.id)
    row = session.execute(projects.only_visible(query, user).where(Image.id == image_id)).first()
    if row is None:
        raise NotFound(f"No image with id {image_id}.")
    return row[0], row[1]


def _conditions(session: Session, project: Project, f: ImageFilter) -> list[ColumnElement[bool]]:
    where = [Image.project_id == project.id]
    if f.status is not None:
        where.append(Image.status == f.status)
    if f.category_id is not None:
        category = taxonomy.category_in_project(session, project, f.category_id)
        tree = taxonomy.load_tree(session, project)
        where.append(Image.category_id.in_({category.id, *tree.descendants(category.id)}))
    if f.batch_id is not None:
        where.append(Image.batch_id == f.batch_id)
    if f.group_id is not None:
        where.append(Image.dup_group_id == f.group_id)
    if f.duplicates_only:
        where.append(Image.dup_group_id.is_not(None))
    return where


def list_images(
    session: Session,
    project: Project,
    f: ImageFilter,
    *,
    sort: Sort = "newest",
    limit: int = 60,
    offset: int = 0,
) -> tuple[list[Image], int]:
    """A page of images and the total that match the filter."""
    where = _conditions(session, project, f)
    # Counted on the indexes alone: a count over a subquery of whole rows reads them all.
    total = session.scalar(select(func.count(Image.id)).where(*where)) or 0
    page = session.scalars(
        select(Image).where(*where).order_by(*_ORDER[sort]).limit(limit).offset(offset)
    )
    return list(page), total


def status_counts(session: Session, project_id: int) -> dict[ImageStatus, int]:
    rows = session.execute(
        select(Image.status, func.count())
        .where(Image.project_id == project_id)
        .group_by(Image.status)
    ).all()
    counts = dict.fromkeys(ImageStatus, 0)
    counts.update({row[0]: row[1] for row in rows})
    return counts


def list_batches(session: Session, project_id: int, limit: int = 20) -> list[ImportBatch]:
    return list(
        session.scalars(
            select(ImportBatch)
            .where(ImportBatch.project_id == project_id)
            .order_by(ImportBatch.id.desc())
            .limit(limit)
        )
    )


def get_batch(session: Session, user: User, batch_id: int) -> tuple[Project, ImportBatch]:
    batch = session.get(ImportBatch, batch_id)
    missing = f"No import with id {batch_id}."
    if batch is None:
        raise NotFound(missing)
    return _project_of(session, user, batch.project_id, missing), batch


def batch_in_project(session: Session, project: Project, batch_id: int) -> ImportBatch:
    batch = session.get(ImportBatch, batch_id)
    if batch is None or batch.project_id != project.id:
        raise NotFound(f"No import #{batch_id} in this project.")
    return batch


def batch_issues(session: Session, batch_id: int, limit: int = 1000) -> list[ImportIssue]:
    """The first ``limit`` files of an import that were duplicates or errors."""
    return list(
        session.scalars(
            select(ImportIssue)
            .where(ImportIssue.batch_id == batch_id)
            .order_by(ImportIssue.id)
            .limit(limit)
        )
    )
