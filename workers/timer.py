"""The worker's timer: report alive, reap stale jobs, send lost or unsent messages.

It runs as a thread in the worker's main process (started on ``worker_ready``), so it
goes on while the task processes are busy, and a worker killed mid-job is found by the
timer of any other worker, or of the same one once restarted. No web request is needed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from app.background.dispatch import dispatch_due
from app.background.models import WorkerHeartbeat
from app.broker import make_celery
from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker, utcnow
from app.imports import jobs as import_jobs
from app.imports.uploads import IMPORTS
from app.training import jobs as run_jobs
from app.training.service import RUNS
from workers.node import BOOT

FORGET_WORKERS_AFTER = timedelta(days=1)
OUTBOXES = (RUNS, IMPORTS)
log = logging.getLogger(__name__)


class Ticker:
    def __init__(self, settings: Settings, node: str, queues: str) -> None:
        self.settings = settings
        self.node = node
        self.queues = queues
        self.engine = make_engine(settings.resolved_database_url)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.celery = make_celery(settings)  # a producer of its own, apart from the consumer's
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="curator-timer", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            self.tick()
            if self.stop.wait(self.settings.worker_tick):
                return

    def tick(self) -> None:
        for step in (self.report_alive, self.reap, self.dispatch):
            try:
                step()
            except Exception:
                log.exception("worker timer: %s failed; trying again next tick", step.__name__)
        # No connection stays open between ticks: the pool forks new task processes
        # from this one, and they must not share its connections.
        self.engine.dispose()

    def report_alive(self) -> None:
        now = utcnow()
        with self.sessions() as session:
            seen = session.execute(
                update(WorkerHeartbeat).where(WorkerHeartbeat.boot == BOOT).values(seen_at=now)
            )
            if not getattr(seen, "rowcount", 0):
                session.add(
                    WorkerHeartbeat(
                        boot=BOOT,
                        node=self.node[:200],
                        host=socket.gethostname()[:255],
                        pid=os.getpid(),
                        queues=self.queues[:100],
                        started_at=now,
                        seen_at=now,
                    )
                )
            session.execute(
                delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < now - FORGET_WORKERS_AFTER)
            )
            session.commit()

    def reap(self) -> None:
        with self.sessions() as session:
            runs = run_jobs.reap_stale(session, self.settings.job_stale_after)
            session.commit()
        imports = import_jobs.reap(self.sessions, self.settings)
        if runs or imports:
            log.warning("marked failed: %s run(s), %s import(s) whose worker died", runs, imports)

    def dispatch(self) -> None:
        timeout = self.settings.dispatch_timeout
        sent = dispatch_due(self.sessions, self.celery, timeout=timeout, boxes=OUTBOXES)
        if sent:
            log.info("sent %s queued job(s) again", sent)


_ticker: Ticker | None = None


def _queues(consumer: Any) -> str:
    try:
        return ",".join(sorted(consumer.app.amqp.queues.consume_from))
    except Exception:
        return ""


@worker_ready.connect
def _start(sender: Any = None, **_: Any) -> None:
    global _ticker
    node = str(getattr(sender, "hostname", None) or f"celery@{socket.gethostname()}")
    _ticker = Ticker(get_settings(), node, _queues(sender))
    _ticker.start()
    log.info("worker timer started: every %ss", _ticker.settings.worker_tick)


@worker_shutdown.connect
def _stop(**_: Any) -> None:
    if _ticker is not None:
        _ticker.close()
