"""One image's page: its label history, what the newest model thinks of it, and where it
sits in the list it was opened from (previous / next)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.auth import service as auth
from app.browse import gallery_view, tiles
from app.browse.gallery_query import GalleryQuery
from app.images import service
from app.images.labels_view import Labels
from app.images.models import Image, ImageStatus
from app.labeling import service as labeling
from app.labeling.models import AnnotationSource
from app.projects.models import Project
from app.training import prediction_queries
from app.training.models import TrainingRun
from app.training.service import latest_model

TOP_CLASSES = 3


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    user: str | None
    what: str  # a category path, "rejected: reason", or "cleared"
    source: AnnotationSource
    # Kept and compared, but it did not change the image's current label.
    second_opinion: bool = False


def history(session: Session, labels: Labels, image: Image) -> list[HistoryEntry]:
    annotations = labeling.history(session, image.id)
    names = auth.usernames(session, {a.user_id for a in annotations if a.user_id is not None})
    entries = []
    for a in annotations:
        if a.rejected:
            what = f"rejected: {a.reason}" if a.reason else "rejected"
        elif a.category_id is not None:
            what = labels.path(a.category_id) or f"category #{a.category_id}"
        else:
            what = "cleared"
        user = names.get(a.user_id) if a.user_id is not None else None
        entries.append(HistoryEntry(a.created_at, user, what, a.source, a.second_opinion))
    return entries


def rejection_reason(session: Session, image: Image) -> str | None:
    """Why the image is rejected, from the latest annotation that set its label."""
    if image.status is not ImageStatus.rejected:
        return None
    # A later second opinion (its own reason, or a category) left the label as it was.
    annotations = [a for a in labeling.history(session, image.id) if not a.second_opinion]
    return annotations[-1].reason if annotations else None


@dataclass(frozen=True)
class ClassProbability:
    category_id: int
    path: str
    color: str | None
    probability: float


@dataclass(frozen=True)
class ModelView:
    """The newest model's top classes for the image; ``top`` is empty if it was not predicted
    (an image added or unreadable since the run)."""

    run: TrainingRun
    top: list[ClassProbability]
    disagrees: bool


def model_view(
    session: Session, labels: Labels, image: Image, run: TrainingRun | None
) -> ModelView | None:
    if run is None:
        return None
    top = prediction_queries.top_classes(session, run, image.id, TOP_CLASSES)
    shown = tiles.prediction(labels, image, top[0]) if top else None
    return ModelView(
        run,
        [
            ClassProbability(
                s.category_id,
                labels.path(s.category_id) or f"category #{s.category_id}",
                c.color if (c := labels.tree.by_id.get(s.category_id)) else None,
                s.confidence,
            )
            for s in top
        ],
        shown is not None and shown.disagrees,
    )


@dataclass(frozen=True)
class ListNav:
    """Previous and next in the list the image was opened from, and the way back to it."""

    query: GalleryQuery
    previous_url: str | None
    next_url: str | None
    position: int | None  # None: the image is not in this list (any more)
    total: int
    back_url: str


def list_nav(
    session: Session, project: Project, image: Image, raw: str | None, run: TrainingRun | None
) -> ListNav:
    """``raw`` is the gallery's query (its ``list`` parameter); None: the whole gallery."""
    query = GalleryQuery.from_list(raw or "")
    found = service.neighbours(
        session,
        project,
        query.image_filter(),
        image,
        sort=query.sort,  # type: ignore[arg-type]  # checked against SORTS by parse
        extra=gallery_view.prediction_extra(session, project, query, run),
    )
    page = 1 if found.position is None else (found.position - 1) // gallery_view.PAGE_SIZE + 1
    return ListNav(
        query,
        None if found.previous is None else query.image_url(found.previous),
        None if found.next is None else query.image_url(found.next),
        found.position,
        found.total,
        query.url(project.id, page=page),
    )


def newest_model(session: Session, project: Project) -> TrainingRun | None:
    return latest_model(session, project.id)
