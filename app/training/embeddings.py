"""The embedding cache's index: which shard row holds an image's vector, per backbone."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.images.models import Image
from app.training.models import Embedding


def missing(
    session: Session, project_id: int, backbone: str, limit: int | None = None
) -> list[tuple[int, str]]:
    """(image id, sha256) of the project's images with no vector (nor error) yet."""
    done = select(Embedding.image_id).where(
        Embedding.image_id == Image.id, Embedding.backbone == backbone
    )
    query = (
        select(Image.id, Image.sha256)
        .where(Image.project_id == project_id, ~done.exists())
        .order_by(Image.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [(r[0], r[1]) for r in session.execute(query)]


def record(
    session: Session,
    backbone: str,
    shard: str | None,
    rows: Sequence[tuple[int, int]],
    errors: Sequence[tuple[int, str]] = (),
) -> None:
    """Index ``rows`` (image id, row in ``shard``) and remember images that failed."""
    values: list[dict[str, object]] = [
        {"image_id": i, "backbone": backbone, "shard": shard, "row": r, "error": None}
        for i, r in rows
    ]
    values += [
        {"image_id": i, "backbone": backbone, "shard": "", "row": -1, "error": e[:500]}
        for i, e in errors
    ]
    if values:
        # Plain INSERT: two workers embedding the same image is prevented by the
        # primary key; the loser's transaction fails and its task retries the rest.
        session.execute(insert(Embedding), values)


def locations(
    session: Session, image_ids: Sequence[int], backbone: str
) -> dict[int, tuple[str, int]]:
    """Shard and row of each of the images that has a vector."""
    found: dict[int, tuple[str, int]] = {}
    ids = list(image_ids)
    for start in range(0, len(ids), 5000):  # under every backend's bound-parameter limit
        chunk = ids[start : start + 5000]
        for image_id, shard, row in session.execute(
            select(Embedding.image_id, Embedding.shard, Embedding.row).where(
                Embedding.backbone == backbone,
                Embedding.image_id.in_(chunk),
                Embedding.error.is_(None),
            )
        ):
            found[image_id] = (shard, row)
    return found


def project_locations(
    session: Session, project_id: int, backbone: str
) -> tuple[list[int], list[tuple[str, int]]]:
    """Every embedded image of the project, by id, with where its vector is."""
    rows = session.execute(
        select(Embedding.image_id, Embedding.shard, Embedding.row)
        .join(Image, Image.id == Embedding.image_id)
        .where(
            Image.project_id == project_id,
            Embedding.backbone == backbone,
            Embedding.error.is_(None),
        )
        .order_by(Embedding.image_id)
    ).all()
    return [r[0] for r in rows], [(r[1], r[2]) for r in rows]
