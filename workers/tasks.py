"""Thin tasks: load rows by id, call workers.ml, write results, report progress."""

from __future__ import annotations

import os
import socket

from app.broker import PING_TASK
from workers.celery_app import celery_app


@celery_app.task(name=PING_TASK)
def ping(payload: str = "ping") -> dict[str, str | int]:
    """Round trip check: proves a worker is consuming and can answer."""
    return {
        "reply": "pong",
        "payload": payload,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
    }
