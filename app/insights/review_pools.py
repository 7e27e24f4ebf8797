"""The insight review queues' pools, for labeling's ``queue/next`` (plugged in through
``app.labeling.review_port``): which images each queue holds, in which order, and what
the screen shows beside each one. Both read the newest succeeded run that scored them.

- "label_issues": every labeled image the run scored, most likely wrong first (by the
  run's rank, flagged or not: the flag is a threshold, and a reviewer with time left
  goes on past it), as long as the image still carries the label the run saw (the same
  category, or no decision since the run's labels).
- "odd_pictures": every image the run scored, most atypical first, except those a
  reviewer kept (``ReviewDismissal``).

Labeling adds its own conditions (not rejected, not reviewed since, not disputed).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session

from app.images.models import Image
from app.insights.models import LabelIssue, OutlierScore, ReviewDismissal
from app.labeling.models import Annotation
from app.labeling.review_port import ReviewQueue
from app.training.models import Prediction, RunStatus, TrainingRun

Scores = type[LabelIssue] | type[OutlierScore]


@dataclass(frozen=True)
class Pool:
    where: ColumnElement[bool]
    order: ColumnElement[Any]


@dataclass(frozen=True)
class Detail:
    run_id: int
    score: float
    flagged: bool
    given_category_id: int | None = None
    suggested_category_id: int | None = None
    suggested_confidence: float | None = None


def _table(queue: ReviewQueue) -> Scores:
    return LabelIssue if queue == "label_issues" else OutlierScore


def newest_run(session: Session, project_id: int, table: Scores) -> int | None:
    """The newest succeeded run of the project with rows in ``table``."""
    scored = exists().where(table.run_id == TrainingRun.id)
    query = (
        select(TrainingRun.id)
        .where(
            TrainingRun.project_id == project_id,
            TrainingRun.status == RunStatus.succeeded,
            scored,
        )
        .order_by(TrainingRun.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def pool(session: Session, project_id: int, queue: ReviewQueue) -> Pool | None:
    """The queue's images and order; None until a run has scored them."""
    table = _table(queue)
    run_id = newest_run(session, project_id, table)
    if run_id is None:
        return None
    # The ids of the run's rows: the planner looks images up by them (a small set)
    # instead of passing over the project's images.
    scored = Image.id.in_(select(table.image_id).where(table.run_id == run_id))
    rank = (
        select(table.rank)
        .where(table.run_id == run_id, table.image_id == Image.id)
        .scalar_subquery()
    )
    if queue == "label_issues":
        # Relabeled since the run: the issue was about a label the image no longer has.
        # The given label is the run's class, which a run at a taxonomy level rolls up
        # (a family for a species): no decision on the image since the run's labels
        # also says it carries the label the run saw.
        same_label = exists().where(
            LabelIssue.run_id == run_id,
            LabelIssue.image_id == Image.id,
            LabelIssue.given_category_id == Image.category_id,
        )
        seen = session.scalar(
            select(TrainingRun.last_annotation_id).where(TrainingRun.id == run_id)
        )
        untouched = ~exists().where(
            Annotation.image_id == Image.id,
            Annotation.id > (seen or 0),
            Annotation.second_opinion.is_(False),
        )
        return Pool(and_(scored, or_(same_label, untouched)), rank)
    kept = exists().where(
        ReviewDismissal.image_id == Image.id, ReviewDismissal.queue == "odd_pictures"
    )
    return Pool(and_(scored, ~kept), rank)


def _probability(session: Session, run_id: int, image_id: int, category_id: int) -> float | None:
    """The run's probability for the class, read from its stored prediction (float16 in
    the run's class order); None once the prediction has been pruned."""
    row = session.execute(
        select(Prediction.probabilities, TrainingRun.classes)
        .join(TrainingRun, TrainingRun.id == Prediction.run_id)
        .where(Prediction.run_id == run_id, Prediction.image_id == image_id)
    ).first()
    if row is None or not row[1]:
        return None
    order = [int(c[0]) for c in row[1]]
    if category_id not in order or len(row[0]) < 2 * len(order):
        return None
    (value,) = struct.unpack_from("<e", row[0], 2 * order.index(category_id))
    return max(0.0, min(1.0, float(value)))


def detail(session: Session, project_id: int, queue: ReviewQueue, image_id: int) -> Detail | None:
    """What the newest scoring run says about the image, for the screen."""
    table = _table(queue)
    run_id = newest_run(session, project_id, table)
    if run_id is None:
        return None
    if queue == "label_issues":
        issue = session.get(LabelIssue, (run_id, image_id))
        if issue is None:
            return None
        suggested = issue.suggested_category_id
        return Detail(
            run_id=run_id,
            score=issue.score,
            flagged=issue.flagged,
            given_category_id=issue.given_category_id,
            suggested_category_id=suggested,
            suggested_confidence=_probability(session, run_id, image_id, suggested),
        )
    outlier = session.get(OutlierScore, (run_id, image_id))
    if outlier is None:
        return None
    return Detail(run_id=run_id, score=outlier.score, flagged=outlier.flagged)
