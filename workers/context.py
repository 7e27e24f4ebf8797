"""What a worker process needs to run jobs: settings, a session factory, the store.

Every task of a process shares one ``WorkerContext`` and with it one engine, made on first
use in the task process itself. Celery's prefork pool forks its task processes from the
main one, and a pooled connection must never be used by two processes: so the context is
never made before the fork, and one seen in a process other than the one that made it
(forked after all) is left to its maker and made anew.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.images.storage import ImageStore


@dataclass(frozen=True)
class WorkerContext:
    settings: Settings
    sessions: sessionmaker[Session]
    store: ImageStore

    def embedding_dir(self, backbone: str) -> Path:
        return self.settings.data_dir / "embeddings" / backbone


@dataclass(frozen=True)
class _Made:
    pid: int
    engine: Engine
    context: WorkerContext


_made: _Made | None = None
_lock = threading.Lock()  # a task's heartbeat thread may ask at the same time as the task


def worker_context() -> WorkerContext:
    """This process's context, with the process's one engine."""
    global _made
    with _lock:
        if _made is None or _made.pid != os.getpid():
            if _made is not None:
                # Inherited over a fork: its connections are the parent's; drop them
                # here without closing them under the parent.
                _made.engine.dispose(close=False)
            settings = get_settings()
            engine = make_engine(settings.resolved_database_url)
            context = WorkerContext(
                settings, make_sessionmaker(engine), ImageStore(settings.data_dir)
            )
            _made = _Made(os.getpid(), engine, context)
        return _made.context


@dataclass
class Throttle:
    """Calls ``report`` at most every ``every`` seconds, with an ETA from the rate so far."""

    report: Callable[[float, float | None], bool]  # (fraction, eta seconds) -> keep going
    every: float = 1.0
    started: float = field(default_factory=time.monotonic)
    _last: float = 0.0
    _go_on: bool = True

    def __call__(self, fraction: float, force: bool = False) -> bool:
        now = time.monotonic()
        if force or now - self._last >= self.every:
            self._last = now
            elapsed = now - self.started
            eta = elapsed * (1 - fraction) / fraction if fraction > 0.01 else None
            self._go_on = self.report(fraction, eta)
        return self._go_on
