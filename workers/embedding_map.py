"""Keep a project's embedding map up to date: fit it, or place the images added since.

Called after embedding (the embed task, and after a training run, which embeds what is
missing first). A fit reads every vector, lays them out, writes the layout file under a
new name, then replaces every point and the map row in one transaction: a worker killed
at any step leaves the previous map (or none) whole, and the next call starts over. The
old layout file is removed only after the commit that stops pointing at it.
"""

from __future__ import annotations

import logging
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.insights import map_store
from app.training import embeddings
from workers.context import WorkerContext
from workers.ml import layout

STRAY_AFTER = 3600.0  # seconds: an unreferenced layout file older than this is left over
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MapUpdate:
    fitted: int = 0  # images laid out by a new fit
    placed: int = 0  # images placed into the existing fit


def maps_prefix(project_id: int) -> str:
    return f"maps/{project_id}"


def maps_dir(ctx: WorkerContext, project_id: int) -> Path:
    """Where this worker writes and reads the project's layout files (the store's own
    folder on file://, the cache's elsewhere)."""
    return ctx.cache.local_dir(maps_prefix(project_id))


def _load(ctx: WorkerContext, project_id: int, name: str) -> layout.Layout:
    try:
        path = ctx.cache.path(f"{maps_prefix(project_id)}/{name}")
    except (FileNotFoundError, ValueError) as exc:
        raise ValueError(f"layout {name} cannot be fetched: {exc}") from exc
    return layout.load(path.parent, name)


def _discard(ctx: WorkerContext, project_id: int, name: str | None) -> None:
    layout.discard(maps_dir(ctx, project_id), name)
    if name and Path(name).name == name and not ctx.cache.is_local:
        with suppress(ValueError):  # a name that is no key was never uploaded
            ctx.blobs.delete(f"{maps_prefix(project_id)}/{name}")


def update_map(ctx: WorkerContext, session: Session, project_id: int, backbone: str) -> MapUpdate:
    """Fit the project's map, or place its new images; commits what it writes."""
    ids, where = embeddings.project_locations(session, project_id, backbone)
    session.rollback()  # end the read transaction: a fit may take minutes
    if not ids:
        return MapUpdate()
    state = map_store.current(session, project_id)
    have = map_store.point_ids(session, project_id)
    new = [(i, loc) for i, loc in zip(ids, where, strict=True) if i not in have]
    fitted: layout.Layout | None = None
    if state is not None and state.backbone == backbone:
        placed = map_store.placed_count(session, project_id)
        if not layout.needs_refit(state.fitted, placed + len(new)):
            if not new:
                session.rollback()
                return MapUpdate()
            try:
                fitted = _load(ctx, project_id, state.layout_file)
            except ValueError as exc:
                log.warning("map of project %s: %s; fitting anew", project_id, exc)
    session.rollback()
    if fitted is None:
        return _refit(ctx, session, project_id, backbone, ids, where)
    return _place(ctx, session, project_id, backbone, fitted, new)


def _refit(
    ctx: WorkerContext,
    session: Session,
    project_id: int,
    backbone: str,
    ids: list[int],
    where: list[tuple[str, int]],
) -> MapUpdate:
    log.info("map of project %s: fitting %d images", project_id, len(ids))
    started = time.monotonic()
    vectors = ctx.rows(backbone, where)
    fitted = layout.fit(vectors)
    folder = maps_dir(ctx, project_id)
    name = layout.save(fitted, folder)
    ctx.cache.publish(f"{maps_prefix(project_id)}/{name}", folder / name)  # before its row
    coords = [(float(x), float(y)) for x, y in fitted.coords]
    try:
        previous = map_store.replace(session, project_id, backbone, name, ids, coords)
        session.commit()
    except Exception:
        session.rollback()
        _discard(ctx, project_id, name)
        raise
    if previous != name:
        _discard(ctx, project_id, previous)
    _sweep(folder, keep=name)
    if not ctx.cache.is_local:
        _sweep_store(ctx, project_id, keep=name)
    log.info(
        "map of project %s: %d images fitted in %.1f s",
        project_id,
        len(ids),
        time.monotonic() - started,
    )
    return MapUpdate(fitted=len(ids))


def _place(
    ctx: WorkerContext,
    session: Session,
    project_id: int,
    backbone: str,
    fitted: layout.Layout,
    new: list[tuple[int, tuple[str, int]]],
) -> MapUpdate:
    vectors = ctx.rows(backbone, [loc for _, loc in new])
    coords = layout.place(fitted, vectors)
    try:
        map_store.add(
            session,
            project_id,
            [i for i, _ in new],
            [(float(x), float(y)) for x, y in np.asarray(coords)],
        )
        session.commit()
    except IntegrityError:
        # Another worker placed some of them first: its points stand; the next update
        # places whatever is still missing.
        session.rollback()
        log.info("map of project %s: placing raced another worker", project_id)
        return MapUpdate()
    return MapUpdate(placed=len(new))


def _sweep(folder: Path, keep: str) -> None:
    """Remove layout files a killed or raced worker left behind (old enough that no
    worker can still be about to commit them)."""
    cutoff = time.time() - STRAY_AFTER
    for path in folder.iterdir():
        if path.name == keep:
            continue
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except OSError:
            continue


def _sweep_store(ctx: WorkerContext, project_id: int, keep: str) -> None:
    """As ``_sweep``, in the bucket: layouts a killed or raced worker uploaded."""
    cutoff = time.time() - STRAY_AFTER
    for info in list(ctx.blobs.list(f"{maps_prefix(project_id)}/")):
        if not info.key.endswith(f"/{keep}") and info.mtime < cutoff:
            ctx.blobs.delete(info.key)
