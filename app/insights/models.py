"""What a run says back about its project's data, one row per image and run.

Rows belong to the run that computed them (a newer run does not overwrite an older
run's rows, so ``run_id=`` answers stay stable); ``rank`` is the order the queue and
the API serve them in, 0 first (most suspicious)."""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


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
