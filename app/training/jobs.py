"""A training run as its worker sees it: the claim, the heartbeat, progress and outcome.

Every write is conditioned on the run still being this process's: a run that the reaper
ended, or that another worker took over, is never written by the one that lost it.

Where commits happen: a web request's session commits once, in ``app.db.get_session``,
and the services it calls never commit. A job is its own unit of work, so it commits
step by step, but only in its domain's ``jobs`` module (this one for training runs,
``app.imports.jobs`` for imports), in ``workers/`` and in the outbox dispatcher
(``app.background.dispatch``, which serves no request). A command of the ``curator``
command line commits its own session. The request side of runs is ``service``.
"""

from __future__ import annotations

import logging
import traceback
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.background.owners import Claim, Liveness, Owner, Workers
from app.db import utcnow
from app.training.models import (
    ACTIVE_STATUSES,
    Prediction,
    RunStatus,
    TrainingRun,
    TrainingSample,
)

STOPPED = (
    "The worker stopped responding (it was killed or crashed) while running this training. "
    "Start the run again."
)
log = logging.getLogger(__name__)


class Lost(Exception):
    """The run is no longer this process's: reaped, or taken over by another worker."""


def _mine(owner: Owner) -> ColumnElement[bool]:
    return (
        (TrainingRun.status == RunStatus.running)
        & (TrainingRun.owner_pid == owner.pid)
        & (TrainingRun.owner_host == owner.host)
        & (TrainingRun.owner_boot == owner.boot)
    )


def claim(
    session: Session, run_id: int, owner: Owner, task_id: str | None, stale_after: float
) -> Claim:
    """Take the run for ``owner``: a queued one, or a running one whose owner is gone.

    A message delivered again while its run is alive elsewhere (Redis redelivers any
    task that runs past its visibility timeout) gets ``busy``; one superseded by a later
    message of the same run gets ``skip``.
    """
    for _ in range(2):  # once more if another worker changed the row in between
        row = session.execute(
            select(
                TrainingRun.status,
                TrainingRun.task_id,
                TrainingRun.heartbeat_at,
                TrainingRun.owner_host,
                TrainingRun.owner_pid,
                TrainingRun.owner_boot,
            ).where(TrainingRun.id == run_id)
        ).one_or_none()
        if row is None or row.status not in ACTIVE_STATUSES:
            session.rollback()
            return Claim.skip
        now = utcnow()
        if row.status is RunStatus.queued:
            free = TrainingRun.status == RunStatus.queued
        else:
            if task_id and row.task_id and task_id != row.task_id:
                session.rollback()
                return Claim.skip
            stale = row.heartbeat_at is None or row.heartbeat_at < now - timedelta(
                seconds=stale_after
            )
            workers = Workers.load(session, stale_after)
            gone = workers.liveness(row.owner_host, row.owner_pid, row.owner_boot)
            if not stale and gone is not Liveness.dead:
                session.rollback()
                return Claim.busy
            # Only if nobody else took it over since this read.
            free = (TrainingRun.status == RunStatus.running) & (
                TrainingRun.heartbeat_at.is_(None)
                if row.heartbeat_at is None
                else TrainingRun.heartbeat_at == row.heartbeat_at
            )
        result = session.execute(
            update(TrainingRun)
            .where(TrainingRun.id == run_id, free)
            .values(
                status=RunStatus.running,
                started_at=now,
                heartbeat_at=now,
                phase="starting",
                progress=0.0,
                eta_seconds=None,
                task_id=task_id or row.task_id,
                **owner.values(),
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0):
            if row.status is RunStatus.running:
                # The dead owner may have written some of its results: start clean.
                session.execute(delete(Prediction).where(Prediction.run_id == run_id))
                session.execute(delete(TrainingSample).where(TrainingSample.run_id == run_id))
                log.warning("run %s taken over from a dead worker", run_id)
            session.commit()
            return Claim.claimed
        session.rollback()
    return Claim.busy


def beat(sessions: sessionmaker[Session], run_id: int, owner: Owner) -> bool:
    """Write the heartbeat; False if the run is no longer ``owner``'s."""
    with sessions() as session:
        result = session.execute(
            update(TrainingRun)
            .where(TrainingRun.id == run_id, _mine(owner))
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        session.commit()
        return bool(getattr(result, "rowcount", 0))


def report_progress(
    session: Session, run_id: int, owner: Owner, phase: str, progress: float, eta: float | None
) -> bool:
    """Record progress and the heartbeat; False if the user asked the run to stop."""
    result = session.execute(
        update(TrainingRun)
        .where(TrainingRun.id == run_id, _mine(owner))
        .values(
            phase=phase,
            progress=max(0.0, min(1.0, progress)),
            eta_seconds=None if eta is None else round(eta),
            heartbeat_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if not getattr(result, "rowcount", 0):
        raise Lost
    cancelled = session.scalar(select(TrainingRun.cancel_requested).where(TrainingRun.id == run_id))
    return not cancelled


def _finished(status: RunStatus, error: str | None = None) -> dict[str, Any]:
    return {
        "status": status,
        "error": error,
        "eta_seconds": None,
        "finished_at": utcnow(),
        "phase": "done" if status is RunStatus.succeeded else status.value,
    }


def succeed(session: Session, run: TrainingRun, owner: Owner, device: str) -> None:
    result = session.execute(
        update(TrainingRun)
        .where(TrainingRun.id == run.id, _mine(owner))
        .values(device=device, progress=1.0, **_finished(RunStatus.succeeded))
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if not getattr(result, "rowcount", 0):
        raise Lost
    session.refresh(run)


def _end(session: Session, run_id: int, owner: Owner, status: RunStatus, error: str) -> None:
    session.rollback()
    session.execute(
        update(TrainingRun)
        .where(TrainingRun.id == run_id, _mine(owner))
        .values(**_finished(status, error))
        .execution_options(synchronize_session=False)
    )
    session.commit()


def fail(session: Session, run_id: int, owner: Owner, error: str) -> None:
    _end(session, run_id, owner, RunStatus.failed, error)


def mark_cancelled(session: Session, run_id: int, owner: Owner) -> None:
    _end(session, run_id, owner, RunStatus.cancelled, "Cancelled by a user.")


def describe(exc: BaseException) -> str:
    """A readable one-line error for the run's page; the traceback goes to the log."""
    log.error("training run failed:\n%s", "".join(traceback.format_exception(exc)))
    return f"{type(exc).__name__}: {exc}"


def reap_stale(session: Session, stale_after: float) -> int:
    """Mark running runs whose heartbeat stopped as failed; returns how many."""
    now = utcnow()
    result = session.execute(
        update(TrainingRun)
        .where(
            TrainingRun.status == RunStatus.running,
            TrainingRun.heartbeat_at < now - timedelta(seconds=stale_after),
        )
        .values(**_finished(RunStatus.failed, STOPPED))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
