"""A run's label issues: written by the worker, paged for the API, counted for the
dashboard.

Rows are written in the run's own transaction, before it is marked succeeded. Without a
run named, the answers come from the project's newest succeeded run that has rows (a
run that could score nothing, or whose rows were pruned, is passed over). Old runs'
rows go with their predictions: only the runs that keep predictions keep label issues.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from app.errors import Conflict, NotFound
from app.insights.models import LabelIssue
from app.training.models import RunStatus, TrainingRun
from app.training.predictions import KEEP_RUNS

_INSERT_BATCH = 5000


@dataclass(frozen=True)
class IssueItem:
    image_id: int
    given_category_id: int
    suggested_category_id: int
    score: float
    flagged: bool


@dataclass(frozen=True)
class IssuePage:
    run_id: int | None  # None: no run of the project has label issues yet
    items: list[IssueItem]
    total: int


@dataclass(frozen=True)
class IssueRow:
    """One labeled image as the worker scored it; rows are passed most likely wrong first."""

    image_id: int
    given_category_id: int
    suggested_category_id: int
    score: float
    flagged: bool


def _newest_run(session: Session, project_id: int) -> int | None:
    return session.scalar(
        select(func.max(LabelIssue.run_id))
        .join(TrainingRun, TrainingRun.id == LabelIssue.run_id)
        .where(LabelIssue.project_id == project_id, TrainingRun.status == RunStatus.succeeded)
    )


def _run_id(session: Session, project_id: int, run_id: int | None) -> int | None:
    if run_id is None:
        return _newest_run(session, project_id)
    run = session.get(TrainingRun, run_id)
    if run is None or run.project_id != project_id:
        raise NotFound(f"No training run with id {run_id}.")
    if run.status is not RunStatus.succeeded:
        raise Conflict(
            f"Training run {run_id} has {run.status.value}; only a run that succeeded "
            "has scored its labels."
        )
    return run.id


def page(
    session: Session, project_id: int, run_id: int | None, limit: int, offset: int
) -> IssuePage:
    """A run's label issues, most likely wrong first (rank 0 first)."""
    chosen = _run_id(session, project_id, run_id)
    if chosen is None:
        return IssuePage(run_id=None, items=[], total=0)
    where = (LabelIssue.run_id == chosen, LabelIssue.project_id == project_id)
    total = int(session.scalar(select(func.count()).select_from(LabelIssue).where(*where)) or 0)
    if total == 0 and run_id is not None and _pruned(session, project_id, chosen):
        raise Conflict(
            f"Training run {chosen}'s label issues were dropped: only the newest "
            f"{KEEP_RUNS} runs that succeeded keep them."
        )
    rows = session.execute(
        select(
            LabelIssue.image_id,
            LabelIssue.given_category_id,
            LabelIssue.suggested_category_id,
            LabelIssue.score,
            LabelIssue.flagged,
        )
        .where(*where)
        .order_by(LabelIssue.rank, LabelIssue.image_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return IssuePage(
        run_id=chosen,
        items=[IssueItem(int(i), int(g), int(s), float(sc), bool(f)) for i, g, s, sc, f in rows],
        total=total,
    )


def count_flagged(session: Session, project_id: int) -> int:
    """Flagged labels of the newest succeeded run with rows: the dashboard's figure."""
    newest = _newest_run(session, project_id)
    if newest is None:
        return 0
    count = session.scalar(
        select(func.count())
        .select_from(LabelIssue)
        .where(
            LabelIssue.run_id == newest,
            LabelIssue.project_id == project_id,
            LabelIssue.flagged.is_(True),
        )
    )
    return int(count or 0)


def replace_issues(
    session: Session, run_id: int, project_id: int, rows: Sequence[IssueRow]
) -> None:
    """The run's rows, ranked in the order given. A rerun of the same run (its worker
    died after the insights phase, before the commit) replaces them rather than adding."""
    session.execute(delete(LabelIssue).where(LabelIssue.run_id == run_id))
    values = [
        {
            "run_id": run_id,
            "project_id": project_id,
            "image_id": row.image_id,
            "given_category_id": row.given_category_id,
            "suggested_category_id": row.suggested_category_id,
            "score": row.score,
            "flagged": row.flagged,
            "rank": rank,
        }
        for rank, row in enumerate(rows)
    ]
    for start in range(0, len(values), _INSERT_BATCH):
        session.execute(insert(LabelIssue), values[start : start + _INSERT_BATCH])


def prune(session: Session, project_id: int, current_run_id: int) -> None:
    """Keep the rows of the runs that keep predictions: the current run (about to
    succeed) and the newest ``KEEP_RUNS - 1`` runs that already did."""
    old = _old_runs(session, project_id, KEEP_RUNS - 1, exclude=current_run_id)
    if old:
        session.execute(delete(LabelIssue).where(LabelIssue.run_id.in_(old)))


def _old_runs(session: Session, project_id: int, keep: int, exclude: int) -> Sequence[int]:
    return session.scalars(
        select(TrainingRun.id)
        .where(
            TrainingRun.project_id == project_id,
            TrainingRun.status == RunStatus.succeeded,
            TrainingRun.id != exclude,
        )
        .order_by(TrainingRun.id.desc())
        .offset(keep)
    ).all()


def _pruned(session: Session, project_id: int, run_id: int) -> bool:
    newest = session.scalars(
        select(TrainingRun.id)
        .where(TrainingRun.project_id == project_id, TrainingRun.status == RunStatus.succeeded)
        .order_by(TrainingRun.id.desc())
        .limit(KEEP_RUNS)
    ).all()
    return run_id not in newest
