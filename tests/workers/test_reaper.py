"""The heartbeat thread and the workers' reaper: no run or import stays "running" forever.

The timer's steps run here in this process, as a worker's timer thread runs them; the
worker killed with -9 is in test_training_job.py and test_import_job.py.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.models import User
from app.background.heartbeat import Heartbeat
from app.background.models import WorkerHeartbeat
from app.background.owners import Claim, Owner
from app.config import Settings
from app.db import make_engine, make_sessionmaker, utcnow
from app.images.models import BatchStatus
from app.imports import jobs
from app.imports.uploads import staging_dir
from app.training import jobs as run_jobs
from app.training.models import RunStatus, TrainingRun
from tests.conftest import ClientFor
from tests.support.processes import wait_for
from tests.workers.job_rows import age, dead_pid, project, run_row, running_import
from workers.node import BOOT
from workers.timer import Ticker

ME = Owner(node="curator-ml@test", host=socket.gethostname(), pid=os.getpid(), boot="b")


def _sessions(settings: Settings) -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(settings.resolved_database_url))


def _heartbeat_at(sessions: sessionmaker[Session], run_id: int) -> datetime | None:
    with sessions() as session:
        return session.scalar(select(TrainingRun.heartbeat_at).where(TrainingRun.id == run_id))


def test_the_heartbeat_goes_on_during_a_long_step_without_progress(
    api_as: ClientFor, admin: User, db: Session, settings: Settings
) -> None:
    run = run_row(db, project(api_as(admin)))
    sessions = _sessions(settings)
    assert run_jobs.claim(db, run.id, ME, None, stale_after=60) is Claim.claimed
    age(db, run, 30)
    started = utcnow()
    with Heartbeat(lambda: run_jobs.beat(sessions, run.id, ME), interval=0.2) as beating:
        # The job's own thread is busy here (a cross-validation, say) and reports nothing.
        seen: set[datetime] = set()

        def beats() -> bool:
            at = _heartbeat_at(sessions, run.id)
            assert at is not None
            if at >= started:
                seen.add(at)
            return len(seen) >= 3

        wait_for(beats, timeout=20, what="three heartbeats from the thread")
        assert not beating.lost
    assert not beating.alive  # the block ended, and so did the thread


def test_a_reaped_run_s_heartbeat_says_it_is_lost(
    api_as: ClientFor, admin: User, db: Session, settings: Settings
) -> None:
    run = run_row(db, project(api_as(admin)))
    sessions = _sessions(settings)
    assert run_jobs.claim(db, run.id, ME, None, stale_after=60) is Claim.claimed
    with Heartbeat(lambda: run_jobs.beat(sessions, run.id, ME), interval=0.1) as beating:
        assert not beating.lost
        # A reaper that found it silent (stale_after 0: any heartbeat is old enough).
        assert run_jobs.reap_stale(db, stale_after=0) == 1
        db.commit()
        wait_for(lambda: beating.lost, timeout=10, what="the heartbeat to notice")
    with pytest.raises(run_jobs.Lost):  # the job's next step stops there
        run_jobs.report_progress(db, run.id, ME, "training", 0.5, None)
    db.refresh(run)
    assert run.status is RunStatus.failed


def test_the_reaper_ends_only_runs_whose_heartbeat_stopped(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    pid = project(api_as(admin))
    alive = run_row(db, pid, status=RunStatus.running, heartbeat_at=utcnow())
    silent = run_row(db, pid, status=RunStatus.running, heartbeat_at=utcnow())
    queued = run_row(db, pid)
    age(db, silent, 61)
    assert run_jobs.reap_stale(db, stale_after=60) == 1
    db.commit()
    for run in (alive, silent, queued):
        db.refresh(run)
    assert (alive.status, queued.status) == (RunStatus.running, RunStatus.queued)
    assert silent.status is RunStatus.failed
    assert silent.error is not None
    assert "the worker stopped responding" in silent.error.lower()
    assert silent.finished_at is not None


def test_a_silent_import_is_reaped_only_once_its_owner_is_gone(
    api_as: ClientFor, admin: User, db: Session, settings: Settings
) -> None:
    pid = project(api_as(admin))
    settings = settings.model_copy(update={"job_stale_after": 60})
    waiting = running_import(db, pid, ME, age=120)  # its owner lives: chunks wait for it
    orphan = running_import(db, pid, Owner("n@h", socket.gethostname(), dead_pid(), "b"), 120)
    unowned = running_import(db, pid, None, age=120)
    fresh = running_import(db, pid, None, age=5)
    staging_dir(settings, orphan.id).mkdir(parents=True)
    assert jobs.reap(_sessions(settings), settings) == 2
    for batch in (waiting, orphan, unowned, fresh):
        db.refresh(batch)
    assert (waiting.status, fresh.status) == (BatchStatus.running, BatchStatus.running)
    for batch in (orphan, unowned):
        assert batch.status is BatchStatus.failed
        assert batch.error is not None
        assert "stopped responding" in batch.error
    assert not staging_dir(settings, orphan.id).exists()


def test_the_worker_timer_reports_alive_and_reaps_with_no_request(
    api_as: ClientFor, admin: User, db: Session, settings: Settings
) -> None:
    pid = project(api_as(admin))
    silent = run_row(db, pid, status=RunStatus.running, heartbeat_at=utcnow())
    age(db, silent, settings.job_stale_after + 1)
    ticker = Ticker(settings, "curator-ml@test", "ml")
    ticker.tick()
    db.refresh(silent)
    assert silent.status is RunStatus.failed
    row = db.get(WorkerHeartbeat, BOOT)
    assert row is not None
    assert (row.node, row.pid, row.queues) == ("curator-ml@test", os.getpid(), "ml")
    first_seen = row.seen_at
    ticker.tick()
    db.refresh(row)
    assert row.seen_at > first_seen
    assert utcnow() - row.seen_at < timedelta(seconds=30)
