"""The backbones a project may name: the built-in ones, and any timm or torchvision
model a worker has published as loadable (``backbone_catalog``, written at its start)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Float, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.errors import InvalidInput
from app.projects.choices import BACKBONES


class BackboneCatalogEntry(Base):
    __tablename__ = "backbone_catalog"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # timm.<name> | tv.<name>
    source: Mapped[str] = mapped_column(String(16))  # timm | torchvision
    feature_dim: Mapped[int | None] = mapped_column(Integer, nullable=True)
    input_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    download_mb: Mapped[float | None] = mapped_column(Float, nullable=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Row = tuple[str, str, int | None, int | None, float | None]  # name .. download_mb


def check_backbone(session: Session, name: str) -> None:
    """A 422 for a name no worker can load, saying where the valid names come from."""
    if name in BACKBONES or session.get(BackboneCatalogEntry, name) is not None:
        return
    published = session.scalar(select(BackboneCatalogEntry.name).limit(1)) is not None
    where = (
        "the names the workers published (timm.list_models(pretrained=True) as timm.<name>, "
        "torchvision.models.list_models() as tv.<name>)"
        if published
        else "timm or torchvision names once a worker has started and published them (none has yet)"
    )
    raise InvalidInput(
        f"Unknown backbone {name!r}. Choose a built-in one ({', '.join(BACKBONES)}) or "
        f"any model from {where}."
    )


def publish(session: Session, rows: Iterable[Row]) -> int:
    """Make the catalog exactly ``rows``; cheap when nothing changed (the usual start).
    Returns how many rows were written or removed."""
    wanted = {row[0]: row for row in rows}
    stored = {
        e.name: (e.name, e.source, e.feature_dim, e.input_size, e.download_mb)
        for e in session.scalars(select(BackboneCatalogEntry))
    }
    gone = [name for name in stored if name not in wanted]
    if gone:
        session.execute(delete(BackboneCatalogEntry).where(BackboneCatalogEntry.name.in_(gone)))
    now = utcnow()
    changed = 0
    for name, row in wanted.items():
        if stored.get(name) == row:
            continue
        session.merge(
            BackboneCatalogEntry(
                name=name,
                source=row[1],
                feature_dim=row[2],
                input_size=row[3],
                download_mb=row[4],
                published_at=now,
            )
        )
        changed += 1
    session.flush()
    return changed + len(gone)
