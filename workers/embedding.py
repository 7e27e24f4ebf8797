"""Embed a project's new images into the on-disk cache, a batch at a time."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.training import embeddings
from workers.context import WorkerContext
from workers.ml.device import resolve_device
from workers.ml.embed import embed_files
from workers.ml.shards import write_shard

BATCH = 256  # images per shard and per commit: a killed worker loses at most one batch
log = logging.getLogger(__name__)


def embed_missing(
    ctx: WorkerContext,
    session: Session,
    project_id: int,
    backbone: str,
    progress: Callable[[int, int], bool] | None = None,
) -> int:
    """Embed every image of the project that has no vector yet; returns how many."""
    device = resolve_device(ctx.settings.ml_device)
    todo = len(embeddings.missing(session, project_id, backbone))
    done = 0
    while True:
        batch = embeddings.missing(session, project_id, backbone, limit=BATCH)
        if not batch:
            return done
        paths = ctx.originals([sha for _, sha in batch])
        result = embed_files(
            paths,
            backbone,
            device=device,
            allow_download=ctx.settings.allow_weight_download,
        )
        shard = write_shard(ctx.embedding_dir(backbone), result.vectors) if result.ok else None
        if shard is not None:
            # In the store before its rows are committed: no row names a shard no
            # worker can fetch.
            ctx.publish_shard(backbone, shard)
        rows = [(batch[i][0], row) for row, i in enumerate(result.ok)]
        errors = [(batch[i][0], reason) for i, reason in result.errors.items()]
        try:
            embeddings.record(session, backbone, shard, rows, errors)
            session.commit()
        except IntegrityError:
            # Another worker embedded some of these first; take the next batch anew.
            session.rollback()
            log.info("embeddings of project %s raced another worker; continuing", project_id)
        done += len(batch)
        if progress is not None and not progress(done, max(todo, done)):
            return done
