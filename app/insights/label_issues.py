"""A run's label issues: written by the worker, paged for the API, counted for the
dashboard. Which run answers, and how long its rows are kept: ``run_scores``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.insights import run_scores
from app.insights.models import LabelIssue


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


def page(
    session: Session, project_id: int, run_id: int | None, limit: int, offset: int
) -> IssuePage:
    """A run's label issues, most likely wrong first (rank 0 first)."""
    chosen = run_scores.chosen_run(session, LabelIssue, project_id, run_id, "labels")
    if chosen is None:
        return IssuePage(run_id=None, items=[], total=0)
    where = (LabelIssue.run_id == chosen, LabelIssue.project_id == project_id)
    total = int(session.scalar(select(func.count()).select_from(LabelIssue).where(*where)) or 0)
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
    return run_scores.count_flagged(session, LabelIssue, project_id)


def replace_issues(
    session: Session, run_id: int, project_id: int, rows: Sequence[IssueRow]
) -> None:
    """The run's rows, ranked in the order given (most likely wrong first)."""
    values = [{**asdict(row), "project_id": project_id} for row in rows]
    run_scores.replace_ranked(session, LabelIssue, run_id, values)


def prune(session: Session, project_id: int, current_run_id: int) -> None:
    """Keep the rows of the runs that keep predictions (see ``run_scores.prune``)."""
    run_scores.prune(session, LabelIssue, project_id, current_run_id)
