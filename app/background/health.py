"""What ``/api/v1/health`` reports: the database, the broker, the workers, free space.

It answers fast and with nothing secret in it: no URL, no host name, no error text.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from typing import Literal

from celery import Celery
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.background.models import WorkerHeartbeat
from app.broker import reachable
from app.config import Settings
from app.db import utcnow


class WorkerHealth(BaseModel):
    last_seen: datetime | None  # the newest report of any worker
    ok: bool


class DiskHealth(BaseModel):
    free_bytes: int | None
    ok: bool


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    broker: Literal["ok", "unreachable"]
    worker: WorkerHealth
    disk: DiskHealth


def _last_worker(sessions: sessionmaker[Session]) -> tuple[bool, datetime | None]:
    """Whether the database answers, and the newest report of any worker."""
    try:
        with sessions() as session:
            return True, session.scalar(select(func.max(WorkerHeartbeat.seen_at)))
    except Exception:
        return False, None


def _free_bytes(settings: Settings) -> int | None:
    try:
        return shutil.disk_usage(settings.data_dir).free
    except OSError:
        return None


def report(settings: Settings, sessions: sessionmaker[Session], celery: Celery) -> Health:
    database_ok, last_seen = _last_worker(sessions)
    broker_ok = reachable(celery)
    recent = utcnow() - timedelta(seconds=settings.job_stale_after)
    worker_ok = last_seen is not None and last_seen >= recent
    free = _free_bytes(settings)
    disk_ok = free is not None and free >= settings.min_free_bytes
    healthy = database_ok and broker_ok and worker_ok and disk_ok
    return Health(
        status="ok" if healthy else "degraded",
        database="ok" if database_ok else "unreachable",
        broker="ok" if broker_ok else "unreachable",
        worker=WorkerHealth(last_seen=last_seen, ok=worker_ok),
        disk=DiskHealth(free_bytes=free, ok=disk_ok),
    )
