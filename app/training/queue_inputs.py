"""What the labeling queue reads from training: rankings, suggestions, predictions.

The labeling domain asks through ``app.labeling.training_port`` (app.api plugs this
module in there: labeling sits below training); the SQL on the training tables stays here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from celery import Celery
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    ScalarSelect,
    Select,
    bindparam,
    select,
)
from sqlalchemy.orm import Session

from app.images.models import Image
from app.labeling.prepared import prepared
from app.projects.models import Project
from app.task_names import QUEUE_OF, SCORE
from app.tasks import enqueue_after_commit
from app.training import predictions
from app.training.formats import ranking_text
from app.training.models import Prediction, QueueRank, Scoring
from app.training.predictions import Suggestion
from app.training.service import latest_model, latest_model_id


@dataclass(frozen=True)
class TrainingState:
    """What one ``queue/next`` needs from training, read in one query."""

    ranking: str | None  # the strategy whose ranking the queue follows; None: no ranking
    model_run_id: int | None  # the newest run that succeeded: the suggestions' model
    # What ranks the queue in the words every page uses ("margin · run #5"), for the
    # labeling screen's header; it names the strategy asked for while none is scored.
    ranking_text: str


def _state_query(strategies: int) -> Select[Any]:
    project: BindParameter[int] = bindparam("project_id", type_=Integer)
    columns: list[ScalarSelect[Any]] = [latest_model_id(project)]
    for n in range(strategies):
        one = (Scoring.project_id == project) & (Scoring.strategy == bindparam(f"s{n}"))
        columns.append(select(Scoring.concrete).where(one).scalar_subquery())
        columns.append(select(Scoring.run_id).where(one).scalar_subquery())
    return select(*columns)


def training_state(session: Session, project: Project, wanted: str | None) -> TrainingState:
    """The ranking to follow (the one asked for if it has been scored, else the
    project's default if scored, else none) and the newest model, in one round trip."""
    choices = [s for s in dict.fromkeys((wanted, project.default_strategy)) if s]
    # Every queue/next reads this: built once per number of strategies (see
    # app.labeling.prepared), so SQLAlchemy does not work out a new cache key per call.
    query = prepared(("training.state", len(choices)), _state_query, len(choices))
    values = {"project_id": project.id, **{f"s{n}": s for n, s in enumerate(choices)}}
    row = session.execute(query, values).one()
    scored = {s: (row[1 + 2 * i], row[2 + 2 * i]) for i, s in enumerate(choices)}
    follow = next((s for s in choices if scored[s][0] is not None), None)
    text = ranking_text(follow, *scored[follow]) if follow else ranking_text(choices[0], None, None)
    return TrainingState(ranking=follow, model_run_id=row[0], ranking_text=text)


def ranked_ids(
    session: Session,
    project_id: int,
    strategy: str,
    conditions: Sequence[ColumnElement[bool]],
    limit: int,
) -> dict[int, int]:
    """The best-ranked images that meet ``conditions``, with their rank, walking the
    rank index (not sorting the pool)."""
    rows = session.execute(
        select(Image.id, QueueRank.rank)
        .join(
            QueueRank,
            (QueueRank.image_id == Image.id)
            & (QueueRank.project_id == project_id)
            & (QueueRank.strategy == strategy),
        )
        .where(*conditions)
        .order_by(QueueRank.rank)
        .limit(limit)
    )
    return dict(rows.all())


def unranked(project_id: int, strategy: str) -> ColumnElement[bool]:
    """A condition on ``Image``: not in the ranking (new since it was made)."""
    return ~(
        select(QueueRank.image_id)
        .where(
            QueueRank.project_id == project_id,
            QueueRank.strategy == strategy,
            QueueRank.image_id == Image.id,
        )
        .exists()
    )


def suggestion(session: Session, run_id: int | None, image_id: int) -> Suggestion | None:
    """The prediction of run ``run_id`` (the newest model) for the image; None: no model."""
    return None if run_id is None else predictions.for_image(session, run_id, image_id)


def predicted_as(
    session: Session, project_id: int, category_ids: set[int]
) -> tuple[ColumnElement[bool], ColumnElement[float]] | None:
    """Condition and order (most confident first) for "predicted as X"; None: no model."""
    run = latest_model(session, project_id)
    if run is None:
        return None
    prediction = select(Prediction).where(
        Prediction.run_id == run.id,
        Prediction.image_id == Image.id,
        Prediction.category_id.in_(category_ids),
    )
    confidence = (
        select(Prediction.confidence)
        .where(Prediction.run_id == run.id, Prediction.image_id == Image.id)
        .scalar_subquery()
    )
    return prediction.exists(), confidence


_scoring_requested: set[tuple[int, str]] = set()


def request_scoring(session: Session, celery: Celery, project: Project, strategy: str) -> None:
    """Rank the project's queue with ``strategy`` on a worker (once per web process);
    until then the queue follows the project's default ranking."""
    key = (project.id, strategy)
    if key in _scoring_requested:
        return
    _scoring_requested.add(key)
    enqueue_after_commit(
        session,
        celery,
        SCORE,
        queue=QUEUE_OF[SCORE],
        args=[project.id, strategy],
        # The broker was down: ask again on a later request.
        on_failure=lambda: _scoring_requested.discard(key),
    )
