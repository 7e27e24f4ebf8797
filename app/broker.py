"""Celery configuration from the settings, shared by the web (producer) and workers.

The web enqueues tasks by name with ``send_task``, so it never imports the worker code
and with it torch; the names and their queues are in ``app.task_names``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from celery import Celery
from kombu import Connection, Exchange, Queue

from app.config import Settings
from app.task_names import INGEST, QUEUE_OF, QUEUES

PROBE_TTL = 3.0  # seconds a broker probe is trusted: health checks and starts share it
PROBE_TIMEOUT = 1.0  # seconds: an unreachable broker must not hold a request up
log = logging.getLogger(__name__)


def _filesystem_folders(settings: Settings) -> dict[str, Path]:
    root = (settings.data_dir / "broker").resolve()
    return {
        # Producer and consumer share one folder: kombu's filesystem transport reads
        # the queue where it writes it.
        "data_folder_in": root / "queue",
        "data_folder_out": root / "queue",
        "control_folder": root / "control",
        "processed_folder": root / "processed",
    }


def celery_config(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "result_backend": settings.resolved_result_backend,
        "task_queues": [Queue(name, Exchange(name), routing_key=name) for name in QUEUES],
        "task_default_queue": INGEST,
        "task_routes": {name: {"queue": queue} for name, queue in QUEUE_OF.items()},
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        # A task is acknowledged after it finishes, so a worker that dies mid-task
        # leaves it on the queue for another worker; tasks are written to run twice.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "result_expires": 24 * 3600,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
    }
    if settings.broker_url.startswith("filesystem://"):
        folders = _filesystem_folders(settings)
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        results = Path(settings.resolved_result_backend.removeprefix("file://"))
        results.mkdir(parents=True, exist_ok=True)
        config["broker_transport_options"] = {
            **{key: str(path) for key, path in folders.items()},
            "store_processed": False,
            # The filesystem transport polls; 0.1 s keeps a round trip well under a second.
            "polling_interval": 0.1,
        }
    return config


def make_celery(settings: Settings, *, include: list[str] | None = None) -> Celery:
    app = Celery("curator", include=include or [])
    app.conf.update(celery_config(settings))
    return app


_probes: dict[str, tuple[float, bool]] = {}
_probes_lock = threading.Lock()


def reachable(celery: Celery) -> bool:
    """Whether the broker answers now (probed at most every ``PROBE_TTL`` seconds)."""
    url = str(celery.conf.broker_url)
    now = time.monotonic()
    with _probes_lock:
        cached = _probes.get(url)
    if cached is not None and now - cached[0] < PROBE_TTL:
        return cached[1]
    ok = _probe(celery, url)
    with _probes_lock:
        _probes[url] = (time.monotonic(), ok)
    return ok


def mark_unreachable(celery: Celery) -> None:
    """A send just failed: say so to the next callers without probing."""
    with _probes_lock:
        _probes[str(celery.conf.broker_url)] = (time.monotonic(), False)


def _probe(celery: Celery, url: str) -> bool:
    if url.startswith("filesystem://"):
        options = celery.conf.broker_transport_options or {}
        folder = options.get("data_folder_out")
        return folder is not None and os.access(folder, os.W_OK)
    try:
        if url.startswith(("redis://", "rediss://", "unix://")):
            import redis

            client = redis.Redis.from_url(
                url, socket_connect_timeout=PROBE_TIMEOUT, socket_timeout=PROBE_TIMEOUT
            )
            try:
                return bool(client.ping())
            finally:
                client.close()
        with Connection(url, connect_timeout=PROBE_TIMEOUT) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=1)
        return True
    except Exception as exc:
        # The URL may hold a password: log the kind of failure, not the URL.
        log.info("broker unreachable: %s", type(exc).__name__)
        return False
