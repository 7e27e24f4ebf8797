"""Write what an import prepared: image rows, imported labels, issues and counters.

Runs wherever the import runs (a request, a Celery task, the CLI) and never commits:
its caller decides when a group of files is durable. Counters are SQL increments, so
chunks of one job recorded by different worker processes add up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import upsert, utcnow
from app.images.models import Image, ImageStatus, ImportBatch, ImportIssue
from app.imports.ingest import Failed, Known, LabelPath, Outcome, Prepared
from app.labeling import service as labeling
from app.labeling.models import AnnotationSource


@dataclass
class Summary:
    """What became of each file: the shape of the upload API's answer."""

    imported: list[tuple[int, str]] = field(default_factory=list)  # (image id, filename)
    duplicates: list[tuple[str, int]] = field(default_factory=list)  # (filename, original id)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (filename, reason)
    labeled: int = 0

    def extend(self, other: Summary) -> None:
        self.imported += other.imported
        self.duplicates += other.duplicates
        self.errors += other.errors
        self.labeled += other.labeled


class Recorder:
    def __init__(
        self,
        session: Session,
        batch: ImportBatch,
        user_id: int | None,
        categories: Mapping[LabelPath, int | str] | None = None,
    ) -> None:
        self.session = session
        self.batch_id = batch.id
        self.project_id = batch.project_id
        self.user_id = user_id
        self.categories = categories if categories is not None else {}

    def record(self, items: Sequence[tuple[Outcome, LabelPath | None]]) -> Summary:
        summary = Summary()
        inserted = self._insert_new([o for o, _ in items if isinstance(o, Prepared)])
        for outcome, label in items:
            if isinstance(outcome, Failed):
                summary.errors.append((outcome.name, outcome.error))
                self.session.add(
                    ImportIssue(batch_id=self.batch_id, filename=outcome.name, error=outcome.error)
                )
                continue
            image_id = inserted.pop(outcome.sha256, None)  # once: a second copy is a duplicate
            if image_id is not None:
                summary.imported.append((image_id, outcome.name))
                if label is not None:
                    self._label(self.session.get_one(Image, image_id), label, outcome.name, summary)
                continue
            # Known content, or new content another file of the same import beat us to.
            image = self._existing(outcome)
            summary.duplicates.append((outcome.name, image.id))
            self.session.add(
                ImportIssue(batch_id=self.batch_id, filename=outcome.name, duplicate_of_id=image.id)
            )
            if label is not None:
                self._label(image, label, outcome.name, summary)
        self._count(len(items), summary)
        return summary

    def _insert_new(self, prepared: list[Prepared]) -> dict[str, int]:
        """Insert the rows in one statement; returns {sha256: id} of those this call added.

        ON CONFLICT DO NOTHING makes content that is already in (an earlier import, a
        concurrent chunk) come back missing, so it is reported as a duplicate.
        """
        if not prepared:
            return {}
        now = utcnow()
        first_copies: dict[str, Prepared] = {}
        for p in prepared:  # ids in upload order; a later copy is reported as a duplicate
            first_copies.setdefault(p.sha256, p)
        rows = [
            {
                "project_id": self.project_id,
                "batch_id": self.batch_id,
                "sha256": p.sha256,
                "filename": p.name[:1000],
                "format": p.format,
                "width": p.width,
                "height": p.height,
                "orientation": p.orientation,
                "size_bytes": p.size_bytes,
                "phash": p.phash,
                "thumbnail_mime": p.thumbnail_mime,
                "status": ImageStatus.unlabeled,
                "dup_checked": False,
                "created_at": now,
            }
            for p in first_copies.values()
        ]
        stmt = (
            upsert(self.session, Image)
            .on_conflict_do_nothing(index_elements=["project_id", "sha256"])
            .returning(Image.sha256, Image.id)
        )
        return {row[0]: row[1] for row in self.session.execute(stmt, rows)}

    def _existing(self, outcome: Prepared | Known) -> Image:
        return self.session.scalars(
            select(Image).where(Image.project_id == self.project_id, Image.sha256 == outcome.sha256)
        ).one()

    def _label(self, image: Image, label: LabelPath, name: str, summary: Summary) -> None:
        category = self.categories.get(label)
        if isinstance(category, str) or category is None:
            summary.errors.append((name, f"imported without a label: {category or 'no category'}"))
            return
        # A re-import never overrides a person's decision: only unlabeled images take the
        # folder's label, and an image that already has it gets no second row.
        if image.status is not ImageStatus.unlabeled:
            return
        labeling.annotate(
            self.session,
            image,
            self.user_id,
            category_id=category,
            source=AnnotationSource.imported,
        )
        summary.labeled += 1

    def _count(self, processed: int, summary: Summary) -> None:
        self.session.execute(
            update(ImportBatch)
            .where(ImportBatch.id == self.batch_id)
            .values(
                processed=ImportBatch.processed + processed,
                imported=ImportBatch.imported + len(summary.imported),
                duplicates=ImportBatch.duplicates + len(summary.duplicates),
                errors=ImportBatch.errors + len(summary.errors),
                labeled=ImportBatch.labeled + summary.labeled,
                heartbeat_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
