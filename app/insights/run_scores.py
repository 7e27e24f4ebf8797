"""What the per-run score tables (label issues, odd pictures) share: which run answers,
the flagged count, writing a run's ranked rows, and dropping old runs' rows.

Rows are written in the run's own transaction, before it is marked succeeded. Without a
run named, the answers come from the project's newest succeeded run that has rows (a
run that could score nothing, or whose rows were pruned, is passed over). Old runs'
rows go with their predictions: only the runs that keep predictions keep scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from app.errors import Conflict, NotFound
from app.insights.models import LabelIssue, OutlierScore
from app.training.models import RunStatus, TrainingRun
from app.training.predictions import KEEP_RUNS

ScoreTable = type[LabelIssue] | type[OutlierScore]
_INSERT_BATCH = 5000


def newest_run(session: Session, table: ScoreTable, project_id: int) -> int | None:
    return session.scalar(
        select(func.max(table.run_id))
        .join(TrainingRun, TrainingRun.id == table.run_id)
        .where(table.project_id == project_id, TrainingRun.status == RunStatus.succeeded)
    )


def chosen_run(
    session: Session, table: ScoreTable, project_id: int, run_id: int | None, what: str
) -> int | None:
    """The run named (checked: this project's, succeeded, rows kept) or the newest with
    rows; None when no run has any. ``what`` says what the run scored, for errors."""
    if run_id is None:
        return newest_run(session, table, project_id)
    run = session.get(TrainingRun, run_id)
    if run is None or run.project_id != project_id:
        raise NotFound(f"No training run with id {run_id}.")
    if run.status is not RunStatus.succeeded:
        raise Conflict(
            f"Training run {run_id} has {run.status.value}; only a run that succeeded "
            f"has scored its {what}."
        )
    has_rows = session.scalar(select(table.run_id).where(table.run_id == run.id).limit(1))
    if has_rows is None and _pruned(session, project_id, run.id):
        raise Conflict(
            f"Training run {run_id}'s scores of its {what} were dropped: only the newest "
            f"{KEEP_RUNS} runs that succeeded keep them."
        )
    return run.id


def count_flagged(session: Session, table: ScoreTable, project_id: int) -> int:
    """Flagged rows of the newest succeeded run with rows: the overview's figure."""
    newest = newest_run(session, table, project_id)
    if newest is None:
        return 0
    count = session.scalar(
        select(func.count())
        .select_from(table)
        .where(table.run_id == newest, table.project_id == project_id, table.flagged.is_(True))
    )
    return int(count or 0)


def replace_ranked(
    session: Session, table: ScoreTable, run_id: int, rows: Sequence[dict[str, Any]]
) -> None:
    """The run's rows, ranked in the order given. A rerun of the same run (its worker
    died after the insights phase, before the commit) replaces them rather than adding."""
    session.execute(delete(table).where(table.run_id == run_id))
    values = [{**row, "run_id": run_id, "rank": rank} for rank, row in enumerate(rows)]
    for start in range(0, len(values), _INSERT_BATCH):
        session.execute(insert(table), values[start : start + _INSERT_BATCH])


def prune(session: Session, table: ScoreTable, project_id: int, current_run_id: int) -> None:
    """Keep the rows of the runs that keep predictions: the current run (about to
    succeed) and the newest ``KEEP_RUNS - 1`` runs that already did."""
    old = session.scalars(
        select(TrainingRun.id)
        .where(
            TrainingRun.project_id == project_id,
            TrainingRun.status == RunStatus.succeeded,
            TrainingRun.id != current_run_id,
        )
        .order_by(TrainingRun.id.desc())
        .offset(KEEP_RUNS - 1)
    ).all()
    if old:
        session.execute(delete(table).where(table.run_id.in_(old)))


def _pruned(session: Session, project_id: int, run_id: int) -> bool:
    newest = session.scalars(
        select(TrainingRun.id)
        .where(TrainingRun.project_id == project_id, TrainingRun.status == RunStatus.succeeded)
        .order_by(TrainingRun.id.desc())
        .limit(KEEP_RUNS)
    ).all()
    return run_id not in newest
