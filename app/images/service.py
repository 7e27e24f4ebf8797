"""Finding images: one image for a user, and the gallery's filtered, sorted pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, and_, func, or_, select
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
    extra: Sequence[ColumnElement[bool]] = (),
) -> tuple[list[Image], int]:
    """A page of images and the total that match the filter (and ``extra`` conditions)."""
    where = [*_conditions(session, project, f), *extra]
    # Counted on the indexes alone: a count over a subquery of whole rows reads them all.
    total = session.scalar(select(func.count(Image.id)).where(*where)) or 0
    page = session.scalars(
        select(Image).where(*where).order_by(*_ORDER[sort]).limit(limit).offset(offset)
    )
    return list(page), total


@dataclass(frozen=True)
class Neighbours:
    """Where one image sits in a filtered, sorted list: for previous / next links."""

    previous: int | None
    next: int | None
    position: int | None  # 1-based; None when the image is not in the list (any more)
    total: int


def _after(sort: Sort, image: Image) -> ColumnElement[bool]:
    """The images that come after ``image`` in the ``sort`` order."""
    if sort == "newest":
        return Image.id < image.id
    if sort == "oldest":
        return Image.id > image.id
    return or_(
        Image.filename > image.filename,
        and_(Image.filename == image.filename, Image.id > image.id),
    )


def _before(sort: Sort, image: Image) -> ColumnElement[bool]:
    if sort == "newest":
        return Image.id > image.id
    if sort == "oldest":
        return Image.id < image.id
    return or_(
        Image.filename < image.filename,
        and_(Image.filename == image.filename, Image.id < image.id),
    )


_REVERSED = {
    "newest": (Image.id.asc(),),
    "oldest": (Image.id.desc(),),
    "filename": (Image.filename.desc(), Image.id.desc()),
}


def neighbours(
    session: Session,
    project: Project,
    f: ImageFilter,
    image: Image,
    *,
    sort: Sort = "newest",
    extra: Sequence[ColumnElement[bool]] = (),
) -> Neighbours:
    """The images just before and after ``image`` in the list, seeking on the sort key."""
    where = [*_conditions(session, project, f), *extra]
    ids = select(Image.id).where(*where)
    following = session.scalar(ids.where(_after(sort, image)).order_by(*_ORDER[sort]).limit(1))
    preceding = session.scalar(ids.where(_before(sort, image)).order_by(*_REVERSED[sort]).limit(1))
    total = session.scalar(select(func.count(Image.id)).where(*where)) or 0
    member = session.scalar(ids.where(Image.id == image.id)) is not None
    ahead = session.scalar(select(func.count(Image.id)).where(*where, _before(sort, image))) or 0
    return Neighbours(preceding, following, ahead + 1 if member else None, total)


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
