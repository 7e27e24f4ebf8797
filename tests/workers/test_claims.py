"""A claim records its owner; a task delivered again takes a run over only from the dead.

Redis with acks_late delivers a task again when it runs past the visibility timeout,
while its first copy still runs: that copy must not start a second run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.models import User
from app.background.models import WorkerHeartbeat
from app.background.owners import Claim, Owner
from app.db import utcnow
from app.training import jobs
from app.training.models import Prediction, RunStatus
from tests.conftest import ClientFor
from tests.images.helpers import jpegs, upload
from tests.workers.job_rows import age, dead_pid, project, run_row

HERE = socket.gethostname()
STALE_AFTER = 60


@pytest.fixture
def live_pid() -> Iterator[int]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def owner(pid: int, boot: str = "boot-a", host: str = HERE) -> Owner:
    return Owner(node=f"curator-ml@{host}", host=host, pid=pid, boot=boot)


ME = owner(os.getpid(), boot="boot-b")


def test_a_live_owner_blocks_a_second_claim(
    api_as: ClientFor, admin: User, db: Session, live_pid: int
) -> None:
    run = run_row(db, project(api_as(admin)))
    assert jobs.claim(db, run.id, owner(live_pid), "m1", STALE_AFTER) is Claim.claimed
    db.refresh(run)
    assert (run.status, run.owner_pid, run.owner_host, run.task_id) == (
        RunStatus.running,
        live_pid,
        HERE,
        "m1",
    )
    # The same message delivered again: its owner still runs it, so try later.
    assert jobs.claim(db, run.id, ME, "m1", STALE_AFTER) is Claim.busy
    # An older copy of the run's message (the dispatcher sent it again meanwhile): drop it.
    assert jobs.claim(db, run.id, ME, "m0", STALE_AFTER) is Claim.skip
    db.refresh(run)
    assert run.owner_pid == live_pid


def test_a_dead_owner_lets_the_claim_through_and_loses_its_writes(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    run = run_row(db, project(api_as(admin)))
    gone = owner(dead_pid())
    assert jobs.claim(db, run.id, gone, "m1", STALE_AFTER) is Claim.claimed
    image_id = _an_image(api_as(admin), run.project_id)
    db.add(
        Prediction(
            run_id=run.id, image_id=image_id, category_id=1, confidence=0.5, probabilities=b"\x00<"
        )
    )
    db.commit()
    # Its heartbeat is fresh, but its process is gone (same host): take it over.
    assert jobs.claim(db, run.id, ME, "m1", STALE_AFTER) is Claim.claimed
    db.refresh(run)
    assert (run.owner_pid, run.owner_boot) == (os.getpid(), "boot-b")
    # What the dead owner wrote is dropped: the new owner starts clean.
    assert db.scalar(select(func.count()).select_from(Prediction)) == 0
    # Should the old owner still write, nothing it writes lands.
    assert not jobs.beat(_sessions(db), run.id, gone)
    with pytest.raises(jobs.Lost):
        jobs.report_progress(db, run.id, gone, "training", 0.5, None)
    jobs.fail(db, run.id, gone, "boom")
    db.refresh(run)
    assert (run.status, run.error) == (RunStatus.running, None)
    assert jobs.beat(_sessions(db), run.id, ME)


def test_a_stale_heartbeat_lets_the_claim_through(
    api_as: ClientFor, admin: User, db: Session, live_pid: int
) -> None:
    run = run_row(db, project(api_as(admin)))
    assert jobs.claim(db, run.id, owner(live_pid), "m1", STALE_AFTER) is Claim.claimed
    age(db, run, STALE_AFTER + 5)  # alive but silent (frozen): as good as dead
    assert jobs.claim(db, run.id, ME, "m1", STALE_AFTER) is Claim.claimed
    db.refresh(run)
    assert run.owner_pid == os.getpid()


def test_an_owner_on_another_host_is_judged_by_its_worker_s_reports(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    run = run_row(db, project(api_as(admin)))
    remote = owner(12345, boot="boot-r", host="elsewhere")
    assert jobs.claim(db, run.id, remote, "m1", STALE_AFTER) is Claim.claimed
    # Its pid cannot be checked from here; with a fresh heartbeat it is left alone.
    assert jobs.claim(db, run.id, ME, "m1", STALE_AFTER) is Claim.busy
    now = utcnow()
    db.add(
        WorkerHeartbeat(
            boot="boot-r",
            node=remote.node,
            host="elsewhere",
            pid=1,
            queues="ml",
            started_at=now - timedelta(hours=1),
            seen_at=now - timedelta(minutes=5),
        )
    )
    db.commit()
    # Its worker stopped reporting five minutes ago: it is gone.
    assert jobs.claim(db, run.id, ME, "m1", STALE_AFTER) is Claim.claimed


def test_a_restarted_worker_s_reused_pid_does_not_keep_the_claim(
    api_as: ClientFor, admin: User, db: Session, live_pid: int
) -> None:
    """A container restarts with the same host name, and pids start over."""
    run = run_row(db, project(api_as(admin)))
    before = owner(live_pid, boot="boot-old")
    assert jobs.claim(db, run.id, before, "m1", STALE_AFTER) is Claim.claimed
    now = utcnow()
    db.add(
        WorkerHeartbeat(
            boot="boot-old",
            node=before.node,
            host=HERE,
            pid=1,
            queues="ml",
            started_at=now - timedelta(hours=1),
            seen_at=now - timedelta(minutes=5),
        )
    )
    db.commit()
    assert jobs.claim(db, run.id, ME, "m1", STALE_AFTER) is Claim.claimed


def test_a_finished_or_missing_run_is_skipped(api_as: ClientFor, admin: User, db: Session) -> None:
    run = run_row(db, project(api_as(admin)), status=RunStatus.cancelled)
    assert jobs.claim(db, run.id, ME, "m1", STALE_AFTER) is Claim.skip
    assert jobs.claim(db, 10_000, ME, "m1", STALE_AFTER) is Claim.skip


def _sessions(db: Session) -> sessionmaker[Session]:
    return sessionmaker(bind=db.get_bind())


def _an_image(api: TestClient, pid: int) -> int:
    imported = upload(api, pid, jpegs(1))["imported"]
    assert isinstance(imported, list)
    return int(imported[0]["id"])
