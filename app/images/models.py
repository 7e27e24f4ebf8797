from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.background.columns import JobColumns
from app.db import Base, UTCDateTime, str_enum, utcnow


class ImageStatus(enum.StrEnum):
    unlabeled = "unlabeled"
    labeled = "labeled"
    rejected = "rejected"


class BatchStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class ImportBatch(JobColumns, Base):
    """One import: an upload, a CLI run or a background job. Its own row, its own progress."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    source: Mapped[str] = mapped_column(String(16))  # upload, job, cli
    name: Mapped[str] = mapped_column(String(300))  # what the user imported, for the filter
    status: Mapped[BatchStatus] = mapped_column(
        str_enum(BatchStatus, "batch_status"),
        default=BatchStatus.running,
    )
    labels_from_folders: Mapped[bool] = mapped_column(Boolean, default=False)
    total: Mapped[int | None] = mapped_column(Integer, default=None)  # known once planned
    processed: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    labeled: Mapped[int] = mapped_column(Integer, default=0)
    task_id: Mapped[str | None] = mapped_column(String(64), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)  # why the whole job failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written by the worker as it goes; a running job whose heartbeat stops was orphaned.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def finished(self) -> bool:
        return self.status in (BatchStatus.succeeded, BatchStatus.failed)


class ImportIssue(Base):
    """A file of an import that did not become a new image: a duplicate or an error."""

    __tablename__ = "import_issues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("import_batches.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(1000))
    error: Mapped[str | None] = mapped_column(Text, default=None)
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), default=None
    )


class Image(Base):
    __tablename__ = "images"
    __table_args__ = (
        # Exact duplicates: one image per content per project.
        UniqueConstraint("project_id", "sha256"),
        # The gallery's pages: a filter, then newest or oldest first.
        Index("ix_images_project_id", "project_id", "id"),
        Index("ix_images_project_filename", "project_id", "filename"),
        Index("ix_images_project_status_id", "project_id", "status", "id"),
        Index("ix_images_project_category_id", "project_id", "category_id", "id"),
        Index("ix_images_project_group", "project_id", "dup_group_id"),
        Index("ix_images_project_batch", "project_id", "batch_id", "id"),
        Index("ix_images_project_unchecked", "project_id", "dup_checked"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_batches.id", ondelete="SET NULL"), default=None
    )
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(1000))  # as uploaded; a path inside a zip
    format: Mapped[str] = mapped_column(String(8))
    width: Mapped[int] = mapped_column(Integer)  # as displayed, after the EXIF orientation
    height: Mapped[int] = mapped_column(Integer)
    orientation: Mapped[int] = mapped_column(SmallInteger, default=1)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    phash: Mapped[str] = mapped_column(String(16))
    thumbnail_mime: Mapped[str] = mapped_column(String(16))
    # The current label, derived from the annotations (app.labeling.service keeps it in
    # step); a column so that the gallery can filter 100,000 images on an index.
    status: Mapped[ImageStatus] = mapped_column(
        str_enum(ImageStatus, "image_status"),
        default=ImageStatus.unlabeled,
    )
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), default=None
    )
    # Near duplicates share the id of their group's first image; None when alone.
    dup_group_id: Mapped[int | None] = mapped_column(Integer, default=None)
    dup_checked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
