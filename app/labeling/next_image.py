"""``queue/next``: pick the next image for a labeler and lease it.

Each mode is one or more pools (conditions on ``Image``). The candidates, and the count
of what is left, are read first; the claim is the only write. On SQLite that keeps the
single write lock for one statement per call instead of the whole request: reads do not
take it (WAL), and the claim re-checks each candidate under it, so a stale read costs a
skipped candidate, never a double lease.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from app.auth.models import User
from app.errors import Conflict, Forbidden
from app.images.models import Image, ImageStatus
from app.labeling import leases, queue_sql
from app.labeling.models import Annotation, AnnotationSource, Overlap, OverlapState, QueueMode
from app.labeling.review_port import ReviewQueue, review_pools
from app.labeling.schemas import QueueOrder
from app.labeling.training_port import queue_inputs
from app.projects.models import Project
from app.projects.service import can_manage
from app.taxonomy import service as taxonomy

# More candidates than labelers who may be claiming at the same moment, so that one
# claim rarely finds them all taken since it read them.
CANDIDATES = 20
MAX_ROUNDS = 50
AFTER_RANKED = 1 << 40  # sort key offset: unranked images come after every ranked one
# Counting a pool of 100,000 images costs milliseconds; past this many the count is
# approximate: shared by everyone asking and refreshed at most every COUNT_TTL seconds.
EXACT_COUNT_UP_TO = 2000
COUNT_TTL = 5.0


@dataclass(frozen=True)
class Served:
    image: queue_sql.ServedImage
    lease_expires_at: datetime
    remaining: int


@dataclass(frozen=True)
class Pool:
    # Conditions on ``Image`` besides its project. The project is left out on purpose:
    # in the claim, where the candidates' ids are known, a project term would tempt
    # SQLite's planner into scanning the project's index instead of looking them up.
    where: list[ColumnElement[bool]]
    # Its images depend on who asks (e.g. never your own first label), so its count is
    # not shared with other labelers.
    per_user: bool = False
    # Read as a range of an index on the project's images (by status), where a random
    # starting point is cheap; otherwise a small set looked up by id (overlaps), which
    # a range condition would turn into a pass over the whole project.
    ranged: bool = True
    # Its own order, ascending (e.g. minus the confidence for "predicted as X").
    order: ColumnElement[Any] | None = None
    # Walk this active-learning ranking first (its images by rank), then the rest by id.
    ranking: str | None = None


def _pools(
    session: Session,
    project: Project,
    user: User,
    mode: QueueMode,
    category_id: int | None,
    ranking: str | None = None,
) -> list[Pool]:
    pid = project.id
    if mode == QueueMode.predicted:
        wanted = (
            set(taxonomy.load_tree(session, project).by_id)
            if category_id is None
            else {category_id, *taxonomy.load_tree(session, project).descendants(category_id)}
        )
        found = queue_inputs().predicted_as(session, pid, wanted)
        if found is None:
            return []  # no model yet: nothing is predicted as anything
        condition, confidence = found
        return [Pool([Image.status == ImageStatus.unlabeled, condition], order=-confidence)]
    if mode == QueueMode.label:
        unlabeled = Pool([Image.status == ImageStatus.unlabeled], ranking=ranking)
        if project.overlap_percent == 0:
            return [unlabeled]  # overlap turned off: no second labels are wanted any more
        second_labels = select(Overlap.image_id).where(
            Overlap.project_id == pid,
            Overlap.state == OverlapState.pending,
            Overlap.first_user_id != user.id,  # never the same labeler twice
        )
        return [unlabeled, Pool([Image.id.in_(second_labels)], per_user=True, ranged=False)]
    if mode == QueueMode.disagreements:
        if not can_manage(session, user, project):
            raise Forbidden("Only the project's managers resolve disagreements.")
        disagreed = select(Overlap.image_id).where(
            Overlap.project_id == pid, Overlap.state == OverlapState.disagreed
        )
        return [Pool([Image.id.in_(disagreed)], ranged=False)]
    # review, rejected and the insights' queues: images not yet confirmed, i.e. whose
    # latest row is not a review.
    # Second opinions do not count: they never change the label a review confirmed.
    latest = aliased(Annotation)
    latest_source = (
        select(latest.source)
        .where(latest.image_id == Image.id, latest.second_opinion.is_(False))
        .order_by(latest.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    unreviewed = func.coalesce(latest_source, "") != AnnotationSource.review.value
    # A disputed image is a manager's to settle, in the disagreements queue.
    disputed = exists(
        select(Overlap.image_id).where(
            Overlap.image_id == Image.id, Overlap.state == OverlapState.disagreed
        )
    )
    if mode == QueueMode.rejected:
        return [Pool([Image.status == ImageStatus.rejected, unreviewed, ~disputed])]
    if mode in (QueueMode.label_issues, QueueMode.odd_pictures):
        return _insight_pools(session, project, user, mode, [unreviewed, ~disputed])
    where = [Image.status == ImageStatus.labeled, unreviewed, ~disputed]
    if category_id is not None:
        tree = taxonomy.load_tree(session, project)
        where.append(Image.category_id.in_({category_id, *tree.descendants(category_id)}))
    return [Pool(where)]


def _insight_pools(
    session: Session,
    project: Project,
    user: User,
    mode: QueueMode,
    open_: list[ColumnElement[bool]],
) -> list[Pool]:
    """A run's suspects, most suspicious first, whatever the queue order. A reviewed
    image is out: a person looked at it and kept or fixed its label (an odd picture
    labeled from the queue, too). Rejected images are out: nothing is left to decide."""
    if not can_manage(session, user, project):
        raise Forbidden("Only the project's managers review label issues and odd pictures.")
    queue: ReviewQueue = "label_issues" if mode == QueueMode.label_issues else "odd_pictures"
    found = review_pools().pool(session, project.id, queue)
    if found is None:
        return []  # no run has scored the project yet
    status = (
        Image.status == ImageStatus.labeled
        if mode == QueueMode.label_issues
        else Image.status.in_([ImageStatus.labeled, ImageStatus.unlabeled])
    )
    return [Pool([found.where, status, *open_], ranged=False, order=found.order)]


def _order(queue_order: QueueOrder) -> InstrumentedAttribute[int]:
    # "active" follows a ranking where one exists (see Pool.ranking); the rest, and
    # "active" before any ranking exists, is sequential, like the issue says.
    return Image.id


_counts: dict[tuple[object, ...], tuple[float, int]] = {}
_counts_lock = threading.Lock()


def _count(session: Session, key: tuple[object, ...], where: list[ColumnElement[bool]]) -> int:
    """Exact up to EXACT_COUNT_UP_TO, then at most COUNT_TTL seconds old."""
    with _counts_lock:
        cached = _counts.get(key)
    fresh = cached is not None and time.monotonic() - cached[0] < COUNT_TTL
    if cached is not None and fresh and cached[1] > EXACT_COUNT_UP_TO:
        return cached[1]
    capped = select(Image.id).where(*where).limit(EXACT_COUNT_UP_TO + 1).subquery()
    count = session.scalar(select(func.count()).select_from(capped)) or 0
    if count <= EXACT_COUNT_UP_TO:
        return count
    exact = session.scalar(select(func.count()).select_from(Image).where(*where)) or 0
    with _counts_lock:
        _counts[key] = (time.monotonic(), exact)
    return exact


def _remaining(
    session: Session,
    project: Project,
    user: User,
    mode: QueueMode,
    category_id: int | None,
    pools: list[Pool],
) -> int:
    total = 0
    for n, pool in enumerate(pools):
        who = user.id if pool.per_user else None
        where = [Image.project_id == project.id, *pool.where]
        total += _count(session, (project.id, mode, category_id, n, who), where)
    return total


def _pivot(session: Session, project: Project, pool: Pool) -> ColumnElement[bool] | None:
    """A random starting id within the pool, for the random order: then onwards is
    random enough, and an index range instead of sorting the whole pool by random()."""
    where = [Image.project_id == project.id, *pool.where]
    low = session.scalar(select(Image.id).where(*where).order_by(Image.id).limit(1))
    high = session.scalar(select(Image.id).where(*where).order_by(Image.id.desc()).limit(1))
    if low is None or high is None:
        return None
    return Image.id >= random.randint(low, high)  # noqa: S311 - not a secret


def _candidates(
    session: Session,
    project: Project,
    pools: list[Pool],
    user: User,
    queue_order: QueueOrder,
    exclude: set[int],
) -> list[int]:
    """The first free images of each pool, in the queue's order (ids only: cheap)."""
    free = [Image.project_id == project.id, ~leases.held_by_others(user.id)]
    if exclude:
        free.append(Image.id.notin_(exclude))
    pivots: dict[int, ColumnElement[bool]] = {}
    if queue_order == "random":
        for n, pool in enumerate(pools):
            if pool.ranged and (pivot := _pivot(session, project, pool)) is not None:
                pivots[n] = pivot
    found: dict[int, Any] = {}  # id -> its key in the queue's order
    for pivoted in [True, False] if pivots else [False]:
        for n, pool in enumerate(pools):
            where = [*pool.where, *free]
            if queue_order == "active" and pool.ranking is not None:
                ranked = queue_inputs().ranked_ids(
                    session, project.id, pool.ranking, where, CANDIDATES
                )
                found.update(ranked)
                if len(ranked) == CANDIDATES:
                    continue
                # Images new since the ranking was made come after the ranked ones.
                where.append(queue_inputs().unranked(project.id, pool.ranking))
                offset = AFTER_RANKED
            else:
                offset = 0
            order = pool.order if pool.order is not None else _order(queue_order)
            extra = [pivots[n]] if pivoted and n in pivots else []
            query = select(Image.id, order).where(*where, *extra).order_by(order)
            for image_id, key in session.execute(query.limit(CANDIDATES)):
                found[image_id] = key + offset
        if found:
            break
    # Pools interleave by the queue's order, so second labels are not left to the end.
    return sorted(found, key=lambda image_id: (found[image_id], image_id))


Claimed = queue_sql.Claimed


def _claim(
    session: Session,
    project: Project,
    pools: list[Pool],
    user: User,
    queue_order: QueueOrder,
    exclude: set[int],
    eligible: ColumnElement[bool],
    mode: QueueMode,
    lease_seconds: int,
) -> Claimed:
    candidates = _candidates(session, project, pools, user, queue_order, exclude)
    if not candidates:
        return None
    claimed = leases.claim_first(
        session, candidates, eligible, user_id=user.id, mode=mode, seconds=lease_seconds
    )
    return False if claimed is None else claimed


def next_image(
    session: Session,
    project: Project,
    user: User,
    *,
    mode: QueueMode,
    queue_order: QueueOrder,
    category_id: int | None,
    exclude: set[int],
    lease_seconds: int,
    ranking: str | None = None,
) -> Served | None:
    """Lease the next image; ``ranking``: the active-learning ranking to follow, if any."""
    if project.archived:
        raise Conflict("The project is archived; restore it to label its images.")
    if category_id is not None:
        taxonomy.category_in_project(session, project, category_id)
    pools = _pools(session, project, user, mode, category_id, ranking)
    if not pools:
        return None
    remaining = _remaining(session, project, user, mode, category_id, pools)
    eligible = or_(*(and_(*pool.where) for pool in pools))
    if exclude:
        eligible = and_(eligible, Image.id.notin_(exclude))
    # PostgreSQL's INSERT ... SELECT reads a snapshot from the statement's start: an image
    # labeled by someone else meanwhile needs a second look after the claim. SQLite's
    # claim already ran under the write lock, on the current data.
    recheck = session.get_bind().dialect.name != "sqlite"
    # The plain label queue in id order has prepared statements (app.labeling.queue_sql).
    plain = mode == QueueMode.label and (
        queue_order == "sequential" or (queue_order == "active" and ranking is None)
    )
    for _ in range(MAX_ROUNDS):
        claimed = (
            queue_sql.claim_plain(
                session,
                project.id,
                user.id,
                project.overlap_percent != 0,
                mode,
                exclude,
                lease_seconds,
            )
            if plain
            else _claim(
                session, project, pools, user, queue_order, exclude, eligible, mode, lease_seconds
            )
        )
        if claimed is None:
            return None
        if claimed is False:
            continue  # all taken since they were read: read again
        image_id, expires_at = claimed
        still = select(Image.id).where(Image.id == image_id, eligible)
        if recheck and session.scalar(still) is None:
            leases.release(session, user.id, [image_id])
            continue
        image = queue_sql.served_image(session, image_id)
        return Served(image, expires_at, max(remaining, 1))
    raise Conflict("The queue is busy; try again.")
