"""``queue/next``: pick the next image for a labeler and lease it.

Each mode is one or more pools (conditions on ``Image``); candidates come from the
pools in the strategy's order, skipping images others hold, and the first one the
caller manages to claim, and that is still in its pool after the claim, is served.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from app.auth.models import User
from app.errors import Conflict, Forbidden
from app.images.models import Image, ImageStatus
from app.labeling import leases
from app.labeling.models import Annotation, AnnotationSource, Overlap, OverlapState, QueueMode
from app.labeling.schemas import Strategy
from app.projects.models import Project
from app.projects.service import can_manage
from app.taxonomy import service as taxonomy

CANDIDATES = 25
MAX_ROUNDS = 50
# Counting a pool of 100,000 images costs milliseconds on every call; past this many
# the count is approximate: refreshed at most every COUNT_TTL seconds.
EXACT_COUNT_UP_TO = 2000
COUNT_TTL = 5.0


@dataclass(frozen=True)
class Served:
    image: Image
    lease_expires_at: datetime
    remaining: int


Pool = list[ColumnElement[bool]]


def _pools(
    session: Session, project: Project, user: User, mode: QueueMode, category_id: int | None
) -> list[Pool]:
    pid = project.id
    if mode == QueueMode.label:
        second_labels = select(Overlap.image_id).where(
            Overlap.project_id == pid,
            Overlap.state == OverlapState.pending,
            Overlap.first_user_id != user.id,  # never the same labeler twice
        )
        return [
            [Image.project_id == pid, Image.status == ImageStatus.unlabeled],
            [Image.project_id == pid, Image.id.in_(second_labels)],
        ]
    if mode == QueueMode.disagreements:
        if not can_manage(session, user, project):
            raise Forbidden("Only the project's managers resolve disagreements.")
        disagreed = select(Overlap.image_id).where(
            Overlap.project_id == pid, Overlap.state == OverlapState.disagreed
        )
        return [[Image.project_id == pid, Image.id.in_(disagreed)]]
    # review and rejected: images not yet confirmed, i.e. whose latest row is not a review
    latest = aliased(Annotation)
    latest_source = (
        select(latest.source)
        .where(latest.image_id == Image.id)
        .order_by(latest.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    unreviewed = func.coalesce(latest_source, "") != AnnotationSource.review.value
    if mode == QueueMode.rejected:
        return [[Image.project_id == pid, Image.status == ImageStatus.rejected, unreviewed]]
    pool: Pool = [Image.project_id == pid, Image.status == ImageStatus.labeled, unreviewed]
    if category_id is not None:
        tree = taxonomy.load_tree(session, project)
        pool.append(Image.category_id.in_({category_id, *tree.descendants(category_id)}))
    return [pool]


def _order(strategy: Strategy) -> InstrumentedAttribute[int]:
    # "active" orders by the latest active-learning score once a model exists; until
    # then it is sequential, like the issue says.
    return Image.id


_counts: dict[tuple[object, ...], tuple[float, int]] = {}
_counts_lock = threading.Lock()


def _remaining(session: Session, key: tuple[object, ...], pools: list[Pool]) -> int:
    total = 0
    for pool in pools:
        capped = select(Image.id).where(*pool).limit(EXACT_COUNT_UP_TO + 1).subquery()
        total += session.scalar(select(func.count()).select_from(capped)) or 0
    if total <= EXACT_COUNT_UP_TO:
        return total
    with _counts_lock:
        cached = _counts.get(key)
    if cached is not None and time.monotonic() - cached[0] < COUNT_TTL:
        return cached[1]
    exact = sum(
        session.scalar(select(func.count()).select_from(Image).where(*pool)) or 0 for pool in pools
    )
    with _counts_lock:
        _counts[key] = (time.monotonic(), exact)
    return exact


def _candidates(
    session: Session, pools: list[Pool], user: User, strategy: Strategy, exclude: set[int]
) -> list[Image]:
    free = [~leases.held_by_others(user.id)]
    if exclude:
        free.append(Image.id.notin_(exclude))
    pivot: list[ColumnElement[bool]] = []
    if strategy == "random":
        # A random starting id, then onwards: random enough, and an index range scan
        # instead of sorting the whole pool by random().
        low, high = session.execute(
            select(func.min(Image.id), func.max(Image.id)).where(*pools[0][:1])
        ).one()
        if low is not None:
            pivot = [Image.id >= random.randint(low, high)]  # noqa: S311 - not a secret
    found: dict[int, Image] = {}
    for extra in [pivot, []] if pivot else [[]]:
        for pool in pools:
            query = select(Image).where(*pool, *free, *extra).order_by(_order(strategy))
            for image in session.scalars(query.limit(CANDIDATES)):
                found[image.id] = image
        if found:
            break
    return sorted(found.values(), key=lambda image: image.id)


def next_image(
    session: Session,
    project: Project,
    user: User,
    *,
    mode: QueueMode,
    strategy: Strategy,
    category_id: int | None,
    exclude: set[int],
    lease_seconds: int,
) -> Served | None:
    if project.archived:
        raise Conflict("The project is archived; restore it to label its images.")
    if category_id is not None:
        taxonomy.category_in_project(session, project, category_id)
    if mode == QueueMode.predicted:
        return None  # no model yet: nothing is predicted as anything
    pools = _pools(session, project, user, mode, category_id)
    # Counted before the first write, so that on SQLite no writer waits for it.
    key = (project.id, user.id, mode, category_id)
    remaining = _remaining(session, key, pools)
    leases.drop_expired(session, project.id)
    in_a_pool = or_(*(and_(*pool) for pool in pools))
    for _ in range(MAX_ROUNDS):
        candidates = _candidates(session, pools, user, strategy, exclude)
        if not candidates:
            return None
        for image in candidates:
            expires_at = leases.claim(
                session, image=image, user_id=user.id, mode=mode, seconds=lease_seconds
            )
            if expires_at is None:
                continue  # someone else got it first
            # Claimed; but another labeler may have labeled it between our read and
            # our claim. The claim's write makes this read see their commit.
            if session.scalar(select(Image.id).where(Image.id == image.id, in_a_pool)):
                return Served(image, expires_at, max(remaining, 1))
            leases.release(session, user.id, [image.id])
    raise Conflict("The queue is busy; try again.")
