"""The database keeps an image's current label in step with its newest annotation (a
trigger, on SQLite and PostgreSQL alike): the labeling routes rely on it, and a later
migration that rebuilds the table without it would break them silently."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, insert, select

from app.auth import service as auth
from app.auth.models import Role
from app.db import make_engine, make_sessionmaker, utcnow
from app.images.models import Image, ImageStatus
from app.labeling.models import Annotation, AnnotationSource, Lease, QueueMode
from app.migrate import upgrade
from app.projects import service as projects
from app.taxonomy import service as taxonomy
from app.taxonomy.schemas import CategoryCreate
from tests.db.conftest import empty_database_url  # noqa: F401 - the SQLite/PostgreSQL fixture


def test_a_new_annotation_sets_the_label_and_drops_its_authors_lease(
    empty_database_url: str,  # noqa: F811
) -> None:
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            boss = auth.create_user(session, "boss", "trigger " + "password", Role.admin)
            other = auth.create_user(session, "other", "trigger " + "password", Role.admin)
            project = projects.create_project(session, boss, "Trigger")
            wine = taxonomy.create_category(session, project, CategoryCreate(name="wine"))
            image = Image(
                project_id=project.id, sha256="0" * 64, filename="a.jpg", format="jpeg",
                width=1, height=1, orientation=1, size_bytes=1, phash="0" * 16,
                thumbnail_mime="image/jpeg", status=ImageStatus.unlabeled, dup_checked=True,
            )  # fmt: skip
            session.add(image)
            session.commit()

            def lease(holder: int) -> None:
                session.execute(
                    insert(Lease).values(
                        image_id=image.id,
                        project_id=project.id,
                        user_id=holder,
                        mode=QueueMode.label,
                        expires_at=utcnow() + timedelta(minutes=5),
                    )
                )
                session.commit()

            def holder() -> int | None:
                return session.scalar(select(Lease.user_id).where(Lease.image_id == image.id))

            def add(**row: object) -> tuple[ImageStatus, int | None]:
                # A Core INSERT, as the labeling hot path sends it: no Python sets the label.
                session.execute(
                    insert(Annotation).values(
                        project_id=project.id,
                        image_id=image.id,
                        user_id=boss.id,
                        source=AnnotationSource.manual,
                        created_at=utcnow(),
                        **row,
                    )
                )
                session.commit()
                found = session.execute(
                    select(Image.status, Image.category_id).where(Image.id == image.id)
                ).one()
                return found.status, found.category_id

            category = wine.category.id
            lease(other.id)
            assert add(category_id=category) == (ImageStatus.labeled, category)
            assert holder() == other.id  # someone else's lease stays
            session.execute(delete(Lease))
            lease(boss.id)
            assert add(rejected=True, reason="blurry") == (ImageStatus.rejected, None)
            assert holder() is None  # the author's own lease is given back
            # A second opinion is kept, and leaves the label as it was.
            assert add(category_id=category, second_opinion=True) == (ImageStatus.rejected, None)
            assert add() == (ImageStatus.unlabeled, None)  # an undo back to unlabeled
    finally:
        engine.dispose()
