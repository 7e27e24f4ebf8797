"""Resolve a near-duplicate group: keep one image, reject the rest, as annotations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict, NotFound
from app.images.models import Image, ImageStatus
from app.labeling import service as labeling
from app.labeling.models import AnnotationSource
from app.projects.models import Project


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
