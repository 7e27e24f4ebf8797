"""Images with synthetic backbone vectors, for the embedding map's tests and bench.

The vectors are what Lite0 gives a clustered project: 1280-d float16, a few clumps.
They are written through the real embedding cache (shards and index rows), so the
worker reads them back exactly as it reads real ones."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.images.models import Image, ImageStatus
from app.training import embeddings
from workers.context import WorkerContext
from workers.ml.shards import write_shard

DIM = 1280


def centres(clusters: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(clusters, dim)).astype(np.float32) * 4


def vectors_for(labels: Sequence[int], centre: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(len(labels), centre.shape[1])).astype(np.float32)
    return (centre[np.asarray(labels)] + noise).astype(np.float16)


def add_images(session: Session, project_id: int, count: int, tag: str = "") -> list[int]:
    """``count`` image rows (no files: the map reads only their vectors)."""
    now = utcnow()
    start = session.scalar(select(Image.id).order_by(Image.id.desc()).limit(1)) or 0
    rows = [
        {
            "project_id": project_id,
            "sha256": hashlib.sha256(f"{project_id}/{tag}/{start + i}".encode()).hexdigest(),
            "filename": f"{tag or 'img'}_{start + i:06d}.jpg",
            "format": "jpeg",
            "width": 64,
            "height": 64,
            "orientation": 1,
            "size_bytes": 1000,
            "phash": "0" * 16,
            "thumbnail_mime": "image/jpeg",
            "status": ImageStatus.unlabeled,
            "dup_checked": True,
            "created_at": now,
        }
        for i in range(count)
    ]
    for chunk in range(0, len(rows), 10_000):
        session.execute(insert(Image), rows[chunk : chunk + 10_000])
    session.flush()
    found = session.scalars(
        select(Image.id).where(Image.project_id == project_id, Image.id > start).order_by(Image.id)
    )
    return list(found)


def embed(
    ctx: WorkerContext,
    session: Session,
    backbone: str,
    image_ids: Sequence[int],
    vectors: np.ndarray,
) -> None:
    """Index ``vectors`` as the images' embeddings, one shard per 4096 rows, and commit."""
    for start in range(0, len(image_ids), 4096):
        block = vectors[start : start + 4096]
        shard = write_shard(ctx.embedding_dir(backbone), block)
        ids = image_ids[start : start + 4096]
        embeddings.record(session, backbone, shard, [(i, r) for r, i in enumerate(ids)])
    session.commit()


def clustered_project(
    ctx: WorkerContext,
    session: Session,
    project_id: int,
    backbone: str,
    labels: Sequence[int],
    centre: np.ndarray,
    seed: int = 0,
    tag: str = "",
) -> list[int]:
    """Images in clumps (``labels[i]`` is image i's clump), embedded; their ids."""
    ids = add_images(session, project_id, len(labels), tag)
    embed(ctx, session, backbone, ids, vectors_for(labels, centre, seed))
    return ids
