"""A run's odd-picture scores: written by the worker, paged for the API, counted for the
overview. Which run answers, and how long its rows are kept: ``run_scores``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.insights import run_scores
from app.insights.models import OutlierScore


@dataclass(frozen=True)
class OutlierItem:
    image_id: int
    score: float
    flagged: bool


@dataclass(frozen=True)
class OutlierPage:
    run_id: int | None  # None: no run of the project has scores yet
    items: list[OutlierItem]
    total: int


def page(
    session: Session, project_id: int, run_id: int | None, limit: int, offset: int
) -> OutlierPage:
    """A run's scores, most atypical first (rank 0 first)."""
    chosen = run_scores.chosen_run(session, OutlierScore, project_id, run_id, "pictures")
    if chosen is None:
        return OutlierPage(run_id=None, items=[], total=0)
    where = (OutlierScore.run_id == chosen, OutlierScore.project_id == project_id)
    total = session.scalar(select(func.count()).select_from(OutlierScore).where(*where))
    rows = session.execute(
        select(OutlierScore.image_id, OutlierScore.score, OutlierScore.flagged)
        .where(*where)
        .order_by(OutlierScore.rank, OutlierScore.image_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return OutlierPage(
        run_id=chosen,
        items=[OutlierItem(int(i), float(s), bool(f)) for i, s, f in rows],
        total=int(total or 0),
    )


def count_flagged(session: Session, project_id: int) -> int:
    """Flagged pictures of the newest scored run: the overview's "odd pictures" figure."""
    return run_scores.count_flagged(session, OutlierScore, project_id)


def replace_scores(
    session: Session,
    run_id: int,
    project_id: int,
    image_ids: Sequence[int],
    scores: Sequence[float],
    flagged: Sequence[bool],
) -> None:
    """The run's rows, ranked in the order given (most atypical first)."""
    rows = [
        {"image_id": int(i), "project_id": project_id, "score": float(s), "flagged": bool(f)}
        for i, s, f in zip(image_ids, scores, flagged, strict=True)
    ]
    run_scores.replace_ranked(session, OutlierScore, run_id, rows)


def prune(session: Session, project_id: int, current_run_id: int) -> None:
    """Keep the rows of the runs that keep predictions (see ``run_scores.prune``)."""
    run_scores.prune(session, OutlierScore, project_id, current_run_id)
