"""A run's odd-picture scores: written by the worker, paged for the API, counted for the
overview.

Without a run named, the answers come from the project's newest run that has scores
(rows are written in the run's own transaction before it is marked succeeded, so that
is the newest succeeded run unless it could score nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from app.errors import Conflict, NotFound
from app.insights.models import OutlierScore
from app.training.models import RunStatus, TrainingRun


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


def newest_scored_run(session: Session, project_id: int) -> int | None:
    return session.scalar(
        select(func.max(OutlierScore.run_id)).where(OutlierScore.project_id == project_id)
    )


def _run_id(session: Session, project_id: int, run_id: int | None) -> int | None:
    if run_id is None:
        return newest_scored_run(session, project_id)
    run = session.get(TrainingRun, run_id)
    if run is None or run.project_id != project_id:
        raise NotFound(f"No training run with id {run_id}.")
    if run.status is not RunStatus.succeeded:
        raise Conflict(
            f"Training run {run_id} has {run.status.value}; only a run that succeeded "
            "has scored its pictures."
        )
    return run.id


def page(
    session: Session, project_id: int, run_id: int | None, limit: int, offset: int
) -> OutlierPage:
    """A run's scores, most atypical first (rank 0 first)."""
    chosen = _run_id(session, project_id, run_id)
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
    newest = (
        select(func.max(OutlierScore.run_id))
        .where(OutlierScore.project_id == project_id)
        .scalar_subquery()
    )
    count = session.scalar(
        select(func.count())
        .select_from(OutlierScore)
        .where(
            OutlierScore.run_id == newest,
            OutlierScore.project_id == project_id,
            OutlierScore.flagged.is_(True),
        )
    )
    return int(count or 0)


def replace_scores(
    session: Session,
    run_id: int,
    project_id: int,
    image_ids: Sequence[int],
    scores: Sequence[float],
    flagged: Sequence[bool],
) -> None:
    """The run's rows, ranked in the order given (most atypical first). A rerun of the
    same run replaces its rows rather than adding to them."""
    session.execute(delete(OutlierScore).where(OutlierScore.run_id == run_id))
    rows = [
        {
            "run_id": run_id,
            "image_id": int(image_id),
            "project_id": project_id,
            "score": float(score),
            "flagged": bool(flag),
            "rank": rank,
        }
        for rank, (image_id, score, flag) in enumerate(zip(image_ids, scores, flagged, strict=True))
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(OutlierScore), rows[start : start + 5000])
