"""What the labeling queue reads from training: rankings, suggestions, predictions.

The labeling domain asks; the SQL on the training tables stays here.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from app.images.models import Image
from app.projects.models import Project
from app.training import predictions, ranks
from app.training.models import Prediction, QueueRank
from app.training.predictions import Suggestion
from app.training.service import latest_model


def ranking_strategy(session: Session, project: Project, wanted: str | None) -> str | None:
    """The strategy whose ranking the queue follows: the one asked for if it has been
    scored, else the project's default if scored, else None (no ranking yet)."""
    for strategy in (wanted, project.default_strategy):
        if strategy and ranks.get(session, project.id, strategy) is not None:
            return strategy
    return None


def ranked_candidates(
    session: Session,
    project_id: int,
    strategy: str,
    conditions: Sequence[ColumnElement[bool]],
    limit: int,
) -> list[Image]:
    """The best-ranked images that meet ``conditions``, walking the rank index."""
    return list(
        session.scalars(
            select(Image)
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
    )


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


def suggestion(session: Session, project_id: int, image_id: int) -> Suggestion | None:
    """The newest model's prediction for the image, if there is a model."""
    run = latest_model(session, project_id)
    return None if run is None else predictions.for_image(session, run.id, image_id)


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
