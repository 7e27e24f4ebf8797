from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, str_enum, utcnow


class AnnotationSource(enum.StrEnum):
    manual = "manual"  # a person decided, on the labeling screen, the grid or the API
    imported = "imported"  # from folder names or a CSV at import
    duplicates = "duplicates"  # "keep this one" in the duplicates view
    undo = "undo"  # restores the state before the annotation it undoes
    review = "review"  # a reviewer confirmed or fixed a label, or a manager settled a disagreement


class Annotation(Base):
    """One decision about one image. Append-only: nothing here is updated or deleted.

    Each row holds the image's state after it: a category, a rejection, or neither (an
    undo back to unlabeled). The image's current label is its latest row that is not a
    second opinion: an overlap's second, independent label is kept and compared, but
    never replaces the first by itself; a disagreement stands until a manager's review.
    A database trigger copies each new row's label onto its image (see
    ``app.labeling.service``) and drops its author's lease on the image.
    """

    __tablename__ = "annotations"
    __table_args__ = (
        Index("ix_annotations_image_id_id", "image_id", "id"),
        Index("ix_annotations_project_user_created", "project_id", "user_id", "created_at"),
        # The project's labels after id N, as a range (auto-train's check).
        Index("ix_annotations_project_id_id", "project_id", "id"),
        # A retried request carries the same key: the constraint, not a prior lookup,
        # is what makes two concurrent retries store one row.
        UniqueConstraint("user_id", "idempotency_key"),
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
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    # Made by one request of the bulk route, with its own Idempotency-Key (on that request).
    bulk_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("bulk_requests.id", ondelete="SET NULL"), default=None, index=True
    )
    second_opinion: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BulkRequest(Base):
    """One request of the bulk route that carried an Idempotency-Key.

    A retry with the key is answered with the same annotations; the key with another
    body is refused. The body is kept as a fingerprint, enough to tell the two apart.
    """

    __tablename__ = "bulk_requests"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the canonical body
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QueueMode(enum.StrEnum):
    label = "label"
    review = "review"
    rejected = "rejected"
    disagreements = "disagreements"
    predicted = "predicted"
    # Review queues over a run's insights (app.insights.review_pools), a manager's.
    label_issues = "label_issues"
    odd_pictures = "odd_pictures"


class Lease(Base):
    """Who holds an image on the labeling screen, until when.

    One row per image: the primary key is what makes a claim atomic (an upsert that
    only takes over an expired row or one the caller already holds).
    """

    __tablename__ = "leases"
    __table_args__ = (Index("ix_leases_project_user", "project_id", "user_id"),)

    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The queue the image was served from: an annotation made from a review queue is a review.
    mode: Mapped[QueueMode] = mapped_column(str_enum(QueueMode, "queue_mode"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OverlapState(enum.StrEnum):
    pending = "pending"  # labeled once; waits for a second, independent labeler
    agreed = "agreed"
    disagreed = "disagreed"  # in the disagreements queue until a manager resolves it
    resolved = "resolved"


class Overlap(Base):
    """An image picked for a second, independent label, and how the two compared."""

    __tablename__ = "overlaps"
    __table_args__ = (Index("ix_overlaps_project_state", "project_id", "state", "image_id"),)

    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    first_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    first_annotation_id: Mapped[int | None] = mapped_column(
        ForeignKey("annotations.id", ondelete="SET NULL"), default=None
    )
    second_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    second_annotation_id: Mapped[int | None] = mapped_column(
        ForeignKey("annotations.id", ondelete="SET NULL"), default=None
    )
    state: Mapped[OverlapState] = mapped_column(str_enum(OverlapState, "overlap_state"))
    # The manager's review that settled a disagreement (undoing it reopens the dispute).
    resolution_annotation_id: Mapped[int | None] = mapped_column(
        ForeignKey("annotations.id", ondelete="SET NULL"), default=None
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
