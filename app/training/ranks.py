"""The active-learning order of the queue, written by the ``score`` task."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.training.models import QueueRank, Scoring

BATCH = 5000


def replace(
    session: Session,
    project_id: int,
    strategy: str,
    *,
    concrete: str,
    run_id: int | None,
    image_ids: Sequence[int],
    scores: Sequence[float],
    seconds: float,
) -> None:
    """Swap in a new ranking (``image_ids`` best first) in one transaction."""
    session.execute(
        delete(QueueRank).where(QueueRank.project_id == project_id, QueueRank.strategy == strategy)
    )
    rows = [
        {
            "project_id": project_id,
            "strategy": strategy,
            "image_id": image_id,
            "rank": rank,
            "score": float(score),
            "run_id": run_id,
        }
        for rank, (image_id, score) in enumerate(zip(image_ids, scores, strict=True))
    ]
    for start in range(0, len(rows), BATCH):
        session.execute(insert(QueueRank), rows[start : start + BATCH])
    scoring = session.get(Scoring, (project_id, strategy))
    if scoring is None:
        scoring = Scoring(project_id=project_id, strategy=strategy)
        session.add(scoring)
    scoring.concrete = concrete
    scoring.run_id = run_id
    scoring.pool_size = len(rows)
    scoring.seconds = seconds
    scoring.created_at = utcnow()


def latest(session: Session, project_id: int) -> list[Scoring]:
    return list(
        session.scalars(
            select(Scoring)
            .where(Scoring.project_id == project_id)
            .order_by(Scoring.created_at.desc())
        )
    )
