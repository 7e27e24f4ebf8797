"""What a run says back about its project's data, one row per image and run.

Rows belong to the run that computed them (a newer run does not overwrite an older
run's rows, so ``run_id=`` answers stay stable); ``rank`` is the order the queue and
the API serve them in, 0 first (most suspicious)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.background.columns import JobColumns
from app.db import Base, UTCDateTime, str_enum, utcnow


class LabelIssue(Base):
    """How likely a labeled image's label (as the run saw it) is wrong."""

    __tablename__ = "label_issues"
    __table_args__ = (
        Index("ix_label_issues_run_rank", "run_id", "rank"),
        Index("ix_label_issues_project_image", "project_id", "image_id"),
    )

    run_id: Mapped[int] = mapped_column(
        ForeignKey("training_runs.id", ondelete="CASCADE"), primary_key=True
    )
    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # The label the run trained on, and the class the out-of-fold model believes in.
    # Plain ids, not foreign keys: a later merge or delete of a category must not
    # rewrite what the run saw.
    given_category_id: Mapped[int] = mapped_column(Integer)
    suggested_category_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)  # 0..1, higher: more likely wrong
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    rank: Mapped[int] = mapped_column(Integer)


class OutlierScore(Base):
    """How atypical an image (labeled or not) is among the project's pictures."""

    __tablename__ = "outlier_scores"
    __table_args__ = (
        Index("ix_outlier_scores_run_rank", "run_id", "rank"),
        Index("ix_outlier_scores_project_image", "project_id", "image_id"),
    )

    run_id: Mapped[int] = mapped_column(
        ForeignKey("training_runs.id", ondelete="CASCADE"), primary_key=True
    )
    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)  # 0..1, higher: more atypical
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    rank: Mapped[int] = mapped_column(Integer)


class EmbeddingMap(Base):
    """A project's fitted 2-D map: which layout file places new images, and how many
    images it was fitted on (placing past a fifth more refits it)."""

    __tablename__ = "embedding_maps"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    backbone: Mapped[str] = mapped_column(String(64))  # the embeddings it was fitted on
    layout_file: Mapped[str] = mapped_column(String(80))  # under the data dir's maps folder
    fitted: Mapped[int] = mapped_column(Integer)
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmbeddingMapPoint(Base):
    """Where one image sits on its project's map."""

    __tablename__ = "embedding_map_points"
    __table_args__ = (Index("ix_embedding_map_points_project", "project_id", "image_id"),)

    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    placed: Mapped[bool] = mapped_column(Boolean, default=False)  # after the fit, not in it


class SaliencyStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


# ``SaliencyMap.category_id`` for "the class the model predicts" when the run has no
# stored prediction for the image (pruned, or the image came after the run).
PREDICTED_CLASS = 0


class SaliencyMap(JobColumns, Base):
    """A Grad-CAM heat map of one image under one run's model for one class: the cache
    record and the job that makes it. The PNG lives in the data dir
    (``app.insights.saliency.map_path``); a row is also an outbox entry (JobColumns)."""

    __tablename__ = "saliency_maps"
    __table_args__ = (
        UniqueConstraint("run_id", "image_id", "category_id", name="uq_saliency_maps_key"),
        Index("ix_saliency_maps_image_id", "image_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("training_runs.id", ondelete="CASCADE"))
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    # The class asked for (a plain id, like the other insights), or PREDICTED_CLASS.
    category_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[SaliencyStatus] = mapped_column(
        str_enum(SaliencyStatus, "saliency_status"), default=SaliencyStatus.queued
    )
    # The class the map explains, once made (the predicted one resolved).
    shown_category_id: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    task_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ReviewDismissal(Base):
    """A reviewer's "keep" in an insight's review queue: the picture belongs, so that
    queue does not ask about it again, whatever later runs say."""

    __tablename__ = "review_dismissals"
    __table_args__ = (Index("ix_review_dismissals_project_id", "project_id"),)

    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    queue: Mapped[str] = mapped_column(String(16), primary_key=True)  # "odd_pictures"
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
