"""What a worker process needs to run jobs: settings, a session factory, the store.

Nothing here assumes the web's data dir: every file a job reads comes from the blob
store through ``cache`` (the store's own file on ``file://``, a local copy on ``s3://``),
and every file it makes is written under ``cache.local_dir(prefix)`` and published back.

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import app.models  # noqa: F401  every table mapped: a job's query may touch any relation
from app.blobs import BlobStore, open_store
from app.blobs.cache import BlobCache
from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.images.storage import ImageStore
from workers.ml.shards import read_rows


def embedding_prefix(backbone: str) -> str:
    return f"embeddings/{backbone}"


@dataclass(frozen=True)
class WorkerContext:
    settings: Settings
    sessions: sessionmaker[Session]
    store: ImageStore  # the image store's keys; jobs read its files through ``cache``
    cache: BlobCache = field(init=False)

    def __post_init__(self) -> None:
        cache = BlobCache(
            self.store.store, self.settings.resolved_cache_dir, self.settings.cache_max_bytes
        )
        object.__setattr__(self, "cache", cache)

    @property
    def blobs(self) -> BlobStore:
        return self.cache.store

    def original(self, sha256: str) -> Path:
        """A local file holding the original of this content."""
        return self.cache.path(ImageStore.original_key(sha256))

    def originals(self, shas: Sequence[str]) -> list[Path]:
        """Local files for many originals; none is evicted while the batch is handed out.
        A missing original gets its would-be path (the reader reports it unreadable)."""
        out: list[Path] = []
        keys = [ImageStore.original_key(s) for s in shas]
        try:
            return self.cache.paths(keys)
        except FileNotFoundError:
            pass  # one is missing: fetch one by one, as the readers expect per-file errors
        for key in keys:
            try:
                out.append(self.cache.path(key))
            except FileNotFoundError:
                out.append(self.cache.directory / key)
        return out

    def embedding_dir(self, backbone: str, shards: Iterable[str] = ()) -> Path:
        """The local folder holding this backbone's shards, with ``shards`` fetched into it."""
        prefix = embedding_prefix(backbone)
        names = sorted(set(shards))
        if names:
            self.cache.paths([f"{prefix}/{name}" for name in names])
        return self.cache.local_dir(prefix)

    def rows(self, backbone: str, locations: Sequence[tuple[str, int]]) -> npt.NDArray[np.float32]:
        """The vectors at ``locations`` (shard, row), each shard fetched once."""
        return read_rows(self.embedding_dir(backbone, (s for s, _ in locations)), locations)

    def publish_shard(self, backbone: str, name: str) -> None:
        """Send a shard written under ``embedding_dir(backbone)`` to the store."""
        key = f"{embedding_prefix(backbone)}/{name}"
        self.cache.publish(key, self.cache.local_dir(embedding_prefix(backbone)) / name)


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
                settings, make_sessionmaker(engine), ImageStore(open_store(settings))
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
