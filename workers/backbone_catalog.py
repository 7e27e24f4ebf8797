"""Publish at worker start which timm and torchvision models this worker can load.

The web validates a by-name backbone against this list (it cannot import timm). It
runs once per worker start in a thread of the main process, after the worker is ready,
so the consumer is not held up; a list that did not change writes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery.signals import worker_ready
from sqlalchemy.exc import IntegrityError

from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.projects.backbone_catalog import publish
from workers.ml.catalog import entries

log = logging.getLogger(__name__)


def publish_catalog(settings: Settings) -> int:
    """Write the catalog; returns how many rows changed."""
    rows = [(e.name, e.source, e.feature_dim, e.input_size, e.download_mb) for e in entries()]
    engine = make_engine(settings.resolved_database_url)
    try:
        sessions = make_sessionmaker(engine)
        for attempt in range(2):
            with sessions() as session:
                try:
                    changed = publish(session, rows)
                    session.commit()
                    return changed
                except IntegrityError:
                    # Another worker started at the same time and wrote the same names
                    # first: read what it wrote and try once more.
                    session.rollback()
                    if attempt:
                        raise
        return 0
    finally:
        # No connection outlives the call: the pool forks task processes from this one.
        engine.dispose()


def _publish_in_background(attempts: int = 10, pause: float = 30.0) -> None:
    # A database not reachable or not migrated yet is retried for a few minutes.
    for attempt in range(1, attempts + 1):
        try:
            changed = publish_catalog(get_settings())
            log.info("backbone catalog published (%s row(s) changed)", changed)
            return
        except Exception:
            log.exception(
                "could not publish the backbone catalog (attempt %s of %s); until it is, "
                "the web refuses by-name backbones it has not seen",
                attempt,
                attempts,
            )
            time.sleep(pause)


@worker_ready.connect
def _start(sender: Any = None, **_: Any) -> None:
    threading.Thread(target=_publish_in_background, name="curator-catalog", daemon=True).start()
