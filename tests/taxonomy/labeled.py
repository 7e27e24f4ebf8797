"""A project with labels to move around: images imported from labeled folders."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.images.models import Image, ImageStatus
from app.labeling.models import Annotation
from tests.images import corpus
from tests.images.helpers import file_part, make_zip, new_project, upload

# folder -> file names; "" is the top of the zip (no label).
LAYOUT = {
    "glass/wine": ["w1.jpg", "w2.jpg"],
    "glass/beer": ["b1.jpg"],
    "glass": ["g1.jpg"],
    "cup": ["c1.jpg", "c2.jpg"],
    "": ["loose.jpg"],
}


def labeled_project(api: TestClient, name: str = "Glassware", seed: int = 0) -> int:
    entries: list[tuple[str, bytes]] = []
    for folder, files in LAYOUT.items():
        for f in files:
            entries.append(
                (f"{folder}/{f}" if folder else f, corpus.jpeg(seed=seed + len(entries)))
            )
    pid = new_project(api, name)
    upload(api, pid, [file_part("set.zip", make_zip(entries))], labels_from_folders="true")
    return pid


def ids(api: TestClient, pid: int) -> dict[str, int]:
    return {c["path"]: c["id"] for c in api.get(f"/api/v1/projects/{pid}/categories").json()}


def image(db: Session, filename: str) -> Image:
    db.expire_all()
    found = db.scalar(select(Image).where(Image.filename.like(f"%{filename}")))
    assert found is not None
    return found


def history(db: Session) -> list[tuple[int, int | None, bool]]:
    """Every annotation as (image, category, rejected), oldest first."""
    db.expire_all()
    rows = db.scalars(select(Annotation).order_by(Annotation.id))
    return [(a.image_id, a.category_id, a.rejected) for a in rows]


def states(db: Session) -> dict[str, tuple[ImageStatus, int | None]]:
    db.expire_all()
    """Each image's current label, by file name (without its folder)."""
    return {
        i.filename.rsplit("/", 1)[-1]: (i.status, i.category_id) for i in db.scalars(select(Image))
    }
