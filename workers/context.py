"""What a worker process needs to run jobs: settings, a session factory, the store."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

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


@lru_cache
def worker_context() -> WorkerContext:
    # One engine per worker process, made on first use (after the fork).
    settings = get_settings()
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    return WorkerContext(settings, sessions, ImageStore(settings.data_dir))


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
