"""Thin tasks: load rows by id, call the domain code or workers.ml, report on the row."""

from __future__ import annotations

import os
import socket
from functools import lru_cache

from app.broker import PING_TASK
from app.config import get_settings
from app.db import make_engine, make_sessionmaker
from app.images import jobs
from app.images.uploads import PLAN_TASK
from workers.celery_app import celery_app


@lru_cache
def _job_context() -> jobs.JobContext:
    # One engine per worker process, made on first use (after the fork).
    settings = get_settings()
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    return jobs.JobContext(settings, sessions, _send_chunk)


def _send_chunk(batch_id: int, start: int, stop: int) -> None:
    import_chunk.apply_async(args=(batch_id, start, stop), queue="ingest")


@celery_app.task(name=PING_TASK)
def ping(payload: str = "ping") -> dict[str, str | int]:
    """Round trip check: proves a worker is consuming and can answer."""
    return {
        "reply": "pong",
        "payload": payload,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
    }


@celery_app.task(name=PLAN_TASK)
def import_plan(batch_id: int) -> None:
    ctx = _job_context()
    try:
        jobs.plan(ctx, batch_id)
    except Exception as exc:
        jobs.fail(ctx, batch_id, jobs.describe(exc))
        raise


@celery_app.task(name=jobs.CHUNK_TASK)
def import_chunk(batch_id: int, start: int, stop: int) -> None:
    ctx = _job_context()
    try:
        jobs.chunk(ctx, batch_id, start, stop)
    except Exception as exc:
        jobs.fail(ctx, batch_id, jobs.describe(exc))
        raise
