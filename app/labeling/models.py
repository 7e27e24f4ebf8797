from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, str_enum, utcnow


class AnnotationSource(enum.StrEnum):
    manual = "manual"  # a person decided, on the labeling screen, the grid or the API
    imported = "imported"  # from folder names or a CSV at import
    duplicates = "duplicates"  # "keep this one" in the duplicates view
    undo = "undo"  # restores the state before the annotation it undoes


class Annotation(Base):
    """One decision about one image. Append-only: nothing here is updated or deleted.

    Each row holds the image's state after it: a category, a rejection, or neither (an
    undo back to unlabeled). The latest row is the image's current label.
    """

    __tablename__ = "annotations"
    __table_args__ = (
        Index("ix_annotations_image_id_id", "image_id", "id"),
        Index("ix_annotations_project_user_created", "project_id", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    # RESTRICT: a category with labels is deleted only after its labels have been moved.
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), default=None, index=True
    )
    rejected: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    source: Mapped[AnnotationSource] = mapped_column(
        str_enum(AnnotationSource, "annotation_source")
    )
    undoes_id: Mapped[int | None] = mapped_column(
        ForeignKey("annotations.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
