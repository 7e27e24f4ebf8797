"""Job rows for the claim, reaper and outbox tests, arranged straight in the database."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.background.owners import Owner
from app.db import utcnow
from app.images.models import BatchStatus, ImportBatch
from app.training.models import RunMode, TrainingRun
from tests.images.helpers import new_project


def project(api: TestClient, name: str = "Jobs") -> int:
    return new_project(api, name)


def run_row(db: Session, pid: int, **fields: object) -> TrainingRun:
    run = TrainingRun(project_id=pid, mode=RunMode.linear, backbone="efficientnet_lite0", **fields)
    db.add(run)
    db.commit()
    return run


def import_row(db: Session, pid: int, **fields: object) -> ImportBatch:
    batch = ImportBatch(project_id=pid, source="job", name="big.zip", **fields)
    db.add(batch)
    db.commit()
    return batch


def running_import(db: Session, pid: int, owner: Owner | None, age: float) -> ImportBatch:
    """A running import whose last heartbeat is ``age`` seconds old."""
    values = owner.values() if owner is not None else {}
    return import_row(
        db,
        pid,
        status=BatchStatus.running,
        total=10,
        processed=4,
        heartbeat_at=utcnow() - timedelta(seconds=age),
        **values,
    )


def dead_pid() -> int:
    """The pid of a process that was killed with -9 (and reaped): nobody has it now."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    proc.kill()
    proc.wait()
    return proc.pid


def age(db: Session, run: TrainingRun, seconds: float) -> None:
    """Pretend the run's last heartbeat was ``seconds`` ago."""
    run.heartbeat_at = utcnow() - timedelta(seconds=seconds)
    db.commit()
