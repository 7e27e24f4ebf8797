"""Training runs, the embedding index, predictions and the active-learning ranking."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.background.columns import JobColumns
from app.db import Base, UTCDateTime, str_enum, utcnow
from app.training.metrics import RunMetrics, read


class RunStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


class RunMode(enum.StrEnum):
    linear = "linear"
    finetune = "finetune"


ACTIVE_STATUSES = (RunStatus.queued, RunStatus.running)


class TrainingRun(JobColumns, Base):
    """One training run; a run that succeeds is a model version."""

    __tablename__ = "training_runs"
    __table_args__ = (Index("ix_training_runs_project_status", "project_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    trigger: Mapped[str] = mapped_column(String(16), default="manual")  # manual, auto
    mode: Mapped[RunMode] = mapped_column(str_enum(RunMode, "run_mode"))
    level: Mapped[int | None] = mapped_column(Integer, default=None)  # None: deepest labels
    backbone: Mapped[str] = mapped_column(String(64))
    # What classifies the embeddings: logreg, svm or mlp (a fine-tuned model's own layer
    # counts as logreg).
    head: Mapped[str] = mapped_column(String(16), default="logreg", server_default="logreg")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[RunStatus] = mapped_column(
        str_enum(RunStatus, "run_status"), default=RunStatus.queued
    )
    # embedding, training, evaluating, predicting, exporting, scoring: what it does now.
    phase: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    eta_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    device: Mapped[str | None] = mapped_column(String(32), default=None)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # Classes in the model's output order: [[category_id, name], ...].
    classes: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # What the training set left out, and why (labels above the level, small classes).
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    label_count: Mapped[int | None] = mapped_column(Integer, default=None)
    # The newest annotation the run saw: auto-train counts new labels after it.
    last_annotation_id: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    task_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Written by the worker as it goes; a running run whose heartbeat stops was orphaned.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def finished(self) -> bool:
        return self.status not in ACTIVE_STATUSES

    @property
    def run_metrics(self) -> RunMetrics:
        """``metrics`` typed (empty while the run has none); read afresh each time, so it
        follows edits to the column."""
        return read(self.metrics)


class TrainingSample(Base):
    """The dataset snapshot: each image and label a run used, and how it was judged.

    ``predicted_id`` is the evaluation's verdict (out-of-fold in linear mode, the
    held-out split in fine-tune mode), so a confusion-matrix cell lists its images.
    """

    __tablename__ = "training_samples"
    __table_args__ = (Index("ix_training_samples_cell", "run_id", "true_id", "predicted_id"),)

    run_id: Mapped[int] = mapped_column(
        ForeignKey("training_runs.id", ondelete="CASCADE"), primary_key=True
    )
    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    annotation_id: Mapped[int] = mapped_column(Integer)
    true_id: Mapped[int] = mapped_column(Integer)  # category at the run's level
    predicted_id: Mapped[int | None] = mapped_column(Integer, default=None)  # None: not evaluated


class Prediction(Base):
    """A run's prediction for one image: the class, its confidence, all probabilities."""

    __tablename__ = "predictions"
    __table_args__ = (
        Index("ix_predictions_run_category_confidence", "run_id", "category_id", "confidence"),
    )

    run_id: Mapped[int] = mapped_column(
        ForeignKey("training_runs.id", ondelete="CASCADE"), primary_key=True
    )
    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    # float16 little-endian, in the run's class order: 2 bytes a class.
    probabilities: Mapped[bytes] = mapped_column(LargeBinary)


class Embedding(Base):
    """Where an image's embedding for one backbone is cached: a row of a float16 shard."""

    __tablename__ = "embeddings"

    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    backbone: Mapped[str] = mapped_column(String(64), primary_key=True)
    shard: Mapped[str] = mapped_column(String(80))
    row: Mapped[int] = mapped_column(Integer)
    # Images that cannot be embedded are remembered, so they are not retried each time.
    error: Mapped[str | None] = mapped_column(Text, default=None)


class QueueRank(Base):
    """The active-learning order of a project's unlabeled images, per strategy."""

    __tablename__ = "queue_ranks"
    __table_args__ = (Index("ix_queue_ranks_order", "project_id", "strategy", "rank"),)

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    strategy: Mapped[str] = mapped_column(String(32), primary_key=True)
    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_runs.id", ondelete="SET NULL"), default=None
    )


class Scoring(Base):
    """The latest ranking of a project per strategy: which run and strategy made it."""

    __tablename__ = "scorings"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    strategy: Mapped[str] = mapped_column(String(32), primary_key=True)
    concrete: Mapped[str] = mapped_column(String(32))  # e.g. typiclust for "default"
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_runs.id", ondelete="SET NULL"), default=None
    )
    pool_size: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
