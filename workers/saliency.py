"""The worker's side of a saliency map: claim the row, make the PNG, record the outcome.

Safe to run twice: a map already done (or taken by a live worker) is skipped; one whose
worker died is taken over. Every write after the claim is conditioned on the row still
being this process's, so a worker that lost it never overwrites the new owner's result.
"""

from __future__ import annotations

import logging
import traceback
from datetime import timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from app.background.owners import Liveness, Owner, Workers
from app.db import utcnow
from app.images.models import Image
from app.insights.models import PREDICTED_CLASS, SaliencyMap, SaliencyStatus
from app.insights.saliency import map_key, model_key
from app.training.models import TrainingRun
from workers.context import WorkerContext
from workers.ml.images import ImageUnreadable
from workers.ml.saliency import cached_explainer, explain_file

log = logging.getLogger(__name__)


def make_map(ctx: WorkerContext, map_id: int, owner: Owner) -> bool:
    """Make one map; False if there was nothing to do (done, gone, or another's)."""
    with ctx.sessions() as session:
        if not claim(session, map_id, owner, ctx.settings.job_stale_after):
            return False
        try:
            shown, png = _compute(ctx, session, map_id)
            row = session.get_one(SaliencyMap, map_id)
            key = map_key(row.run_id, row.image_id, row.category_id)
            ctx.blobs.put_bytes(key, png)  # whole or nothing: a reader never sees half
            _finish(session, map_id, owner, SaliencyStatus.done, shown=shown)
        except Exception as exc:
            session.rollback()
            _finish(session, map_id, owner, SaliencyStatus.failed, error=_describe(exc))
    return True


def claim(session: Session, map_id: int, owner: Owner, stale_after: float) -> bool:
    """Take a queued map, or a running one whose worker is gone."""
    row = session.execute(
        select(
            SaliencyMap.status,
            SaliencyMap.started_at,
            SaliencyMap.owner_host,
            SaliencyMap.owner_pid,
            SaliencyMap.owner_boot,
        ).where(SaliencyMap.id == map_id)
    ).one_or_none()
    now = utcnow()
    if row is None:
        free: ColumnElement[bool] | None = None
    elif row.status is SaliencyStatus.queued:
        free = SaliencyMap.status == SaliencyStatus.queued
    elif row.status is SaliencyStatus.running and _gone(session, row, stale_after):
        # Only if nobody else took it over since this read.
        free = (SaliencyMap.status == SaliencyStatus.running) & (
            SaliencyMap.started_at == row.started_at
        )
    else:
        free = None
    if free is None:
        session.rollback()
        return False
    result = session.execute(
        update(SaliencyMap)
        .where(SaliencyMap.id == map_id, free)
        .values(status=SaliencyStatus.running, started_at=now, error=None, **owner.values())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(getattr(result, "rowcount", 0))


def _gone(session: Session, row: object, stale_after: float) -> bool:
    started = getattr(row, "started_at", None)
    if started is None or started < utcnow() - timedelta(seconds=stale_after):
        return True
    workers = Workers.load(session, stale_after)
    host, pid, boot = (getattr(row, k) for k in ("owner_host", "owner_pid", "owner_boot"))
    return workers.liveness(host, pid, boot) is Liveness.dead


def _compute(ctx: WorkerContext, session: Session, map_id: int) -> tuple[int, bytes]:
    row = session.get_one(SaliencyMap, map_id)
    run = session.get_one(TrainingRun, row.run_id)
    image = session.get_one(Image, row.image_id)
    try:
        model = ctx.cache.path(model_key(run.id))
    except FileNotFoundError:
        raise FileNotFoundError(f"training run {run.id} has no model file") from None
    # The model's output columns are the class ids sorted (np.unique in both modes).
    columns = sorted(int(cid) for cid, _ in run.classes or [])
    if row.category_id != PREDICTED_CLASS and row.category_id not in columns:
        raise ValueError(f"category {row.category_id} is not one of the run's classes")
    explainer = cached_explainer(
        model,
        run.backbone,
        run.mode.value,
        len(columns),
        allow_download=ctx.settings.allow_weight_download,
    )
    asked = None if row.category_id == PREDICTED_CLASS else columns.index(row.category_id)
    saliency, png = explain_file(explainer, ctx.original(image.sha256), asked)
    return columns[saliency.column], png


def _mine(owner: Owner) -> ColumnElement[bool]:
    return (
        (SaliencyMap.status == SaliencyStatus.running)
        & (SaliencyMap.owner_pid == owner.pid)
        & (SaliencyMap.owner_host == owner.host)
        & (SaliencyMap.owner_boot == owner.boot)
    )


def _finish(
    session: Session,
    map_id: int,
    owner: Owner,
    status: SaliencyStatus,
    *,
    shown: int | None = None,
    error: str | None = None,
) -> None:
    session.execute(
        update(SaliencyMap)
        .where(SaliencyMap.id == map_id, _mine(owner))
        .values(status=status, shown_category_id=shown, error=error, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _describe(exc: BaseException) -> str:
    """What the user reads; the traceback goes to the log."""
    if isinstance(exc, ImageUnreadable):
        return f"the image cannot be read ({exc})"
    log.error("saliency map failed:\n%s", "".join(traceback.format_exception(exc)))
    return f"{type(exc).__name__}: {exc}"
