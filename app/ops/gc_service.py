"""The queries of `curator gc`: what the rows name in the data dir, read in one go."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.images.models import BatchStatus, Image, ImportBatch
from app.training.models import Embedding, TrainingRun


@dataclass
class Referenced:
    """Everything a file in the data dir may be named by."""

    # Image content (originals and display copies) -> its thumbnails' MIME types.
    images: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    shards: set[tuple[str, str]] = field(default_factory=set)  # (backbone, shard file)
    run_ids: set[int] = field(default_factory=set)  # models/<run id>/
    staged_batches: set[int] = field(default_factory=set)  # staging/<batch id>/ still needed


def referenced(session: Session) -> Referenced:
    found = Referenced()
    for sha256, mime in session.execute(select(Image.sha256, Image.thumbnail_mime).distinct()):
        found.images[sha256].add(mime)
    found.shards = {
        (backbone, shard)
        for backbone, shard in session.execute(
            select(Embedding.backbone, Embedding.shard)
            .where(Embedding.error.is_(None), Embedding.shard != "")
            .distinct()
        )
    }
    found.run_ids = set(session.scalars(select(TrainingRun.id)))
    # A background import reads its staged upload until it succeeds or fails.
    found.staged_batches = set(
        session.scalars(
            select(ImportBatch.id).where(
                ImportBatch.status.in_((BatchStatus.queued, BatchStatus.running))
            )
        )
    )
    return found
