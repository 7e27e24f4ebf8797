"""The worker's side of the embedding map: a fit writes one point per embedded image,
later images are placed into the fit, a fifth more refits, and a worker killed with -9
in the middle of a fit leaves nothing half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.images.storage import ImageStore
from app.insights.models import EmbeddingMap, EmbeddingMapPoint
from app.projects.models import Project
from tests.conftest import ClientFor
from tests.images.helpers import new_project
from tests.insights.map_rows import add_images, centres, clustered_project, embed, vectors_for
from tests.support.processes import REPO, curator_env, wait_for
from workers.context import WorkerContext
from workers.embedding_map import maps_dir, update_map

CLUSTERS = 4


@pytest.fixture
def ctx(settings: Settings) -> Iterator[WorkerContext]:
    engine = make_engine(settings.resolved_database_url)
    yield WorkerContext(settings, make_sessionmaker(engine), ImageStore(settings.data_dir))
    engine.dispose()


@pytest.fixture
def project(api_as: ClientFor, manager: User, db: Session) -> tuple[int, str]:
    pid = new_project(api_as(manager), "Map")
    return pid, db.get_one(Project, pid).backbone


def _points(session: Session, pid: int) -> dict[int, tuple[float, float, bool]]:
    session.expire_all()
    rows = session.execute(
        select(
            EmbeddingMapPoint.image_id,
            EmbeddingMapPoint.x,
            EmbeddingMapPoint.y,
            EmbeddingMapPoint.placed,
        ).where(EmbeddingMapPoint.project_id == pid)
    )
    return {i: (x, y, placed) for i, x, y, placed in rows}


def _labels(n: int, seed: int = 0) -> list[int]:
    return [int(v) for v in np.random.default_rng(seed).integers(0, CLUSTERS, n)]


def test_fit_then_place_then_refit(
    ctx: WorkerContext, db: Session, project: tuple[int, str]
) -> None:
    pid, backbone = project
    centre = centres(CLUSTERS)
    first = _labels(100)
    with ctx.sessions() as session:
        ids = clustered_project(ctx, session, pid, backbone, first, centre)
        assert update_map(ctx, session, pid, backbone).fitted == 100
    points = _points(db, pid)
    assert sorted(points) == ids
    assert not any(placed for _, _, placed in points.values())
    state = db.get_one(EmbeddingMap, pid)
    assert state.fitted == 100
    assert (maps_dir(ctx, pid) / state.layout_file).is_file()
    first_file = state.layout_file

    # Nothing new: nothing moves.
    with ctx.sessions() as session:
        assert update_map(ctx, session, pid, backbone).fitted == 0
    assert _points(db, pid) == points

    # 20 more (a fifth): placed into the fit, each beside its own clump.
    more = _labels(20, seed=1)
    with ctx.sessions() as session:
        new_ids = clustered_project(ctx, session, pid, backbone, more, centre, seed=1, tag="b")
        assert update_map(ctx, session, pid, backbone).placed == 20
    points = _points(db, pid)
    assert len(points) == 120
    xy = np.array([points[i][:2] for i in ids])
    clump_centres = np.stack([xy[np.array(first) == c].mean(axis=0) for c in range(CLUSTERS)])
    for image_id, clump in zip(new_ids, more, strict=True):
        x, y, placed = points[image_id]
        assert placed
        nearest = np.argmin(((clump_centres - [x, y]) ** 2).sum(axis=1))
        assert nearest == clump
    db.expire_all()
    assert db.get_one(EmbeddingMap, pid).fitted == 100  # placing does not refit

    # One more passes a fifth of the map: everything is fitted anew.
    with ctx.sessions() as session:
        clustered_project(ctx, session, pid, backbone, [0], centre, seed=2, tag="c")
        assert update_map(ctx, session, pid, backbone).fitted == 121
    points = _points(db, pid)
    assert len(points) == 121
    assert not any(p for _, _, p in points.values())
    db.expire_all()
    state = db.get_one(EmbeddingMap, pid)
    assert state.fitted == 121
    assert state.layout_file != first_file
    assert not (maps_dir(ctx, pid) / first_file).exists()  # the old fit's file is gone


def test_a_lost_layout_file_refits_rather_than_fails(
    ctx: WorkerContext, db: Session, project: tuple[int, str]
) -> None:
    pid, backbone = project
    centre = centres(CLUSTERS)
    with ctx.sessions() as session:
        clustered_project(ctx, session, pid, backbone, _labels(40), centre)
        update_map(ctx, session, pid, backbone)
    state = db.get_one(EmbeddingMap, pid)
    (maps_dir(ctx, pid) / state.layout_file).write_bytes(b"garbage")
    with ctx.sessions() as session:
        clustered_project(ctx, session, pid, backbone, [1], centre, seed=3, tag="late")
        assert update_map(ctx, session, pid, backbone).fitted == 41


def test_a_project_without_embeddings_has_no_map(
    ctx: WorkerContext, db: Session, project: tuple[int, str]
) -> None:
    pid, backbone = project
    with ctx.sessions() as session:
        add_images(session, pid, 3)
        session.commit()
        assert update_map(ctx, session, pid, backbone).fitted == 0
    assert _points(db, pid) == {}
    assert db.get(EmbeddingMap, pid) is None


def _kill_mid_fit(settings: Settings, pid: int, log_path: Path) -> None:
    """Run the real task in its own process; kill it -9 once it says it is fitting."""
    script = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stderr)\n"
        "from workers.tasks import embedding_map\n"
        f"embedding_map.run({pid})\n"
    )
    env = curator_env(settings.data_dir, CURATOR_SECRET_KEY=settings.secret_key.get_secret_value())
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", script], cwd=REPO, env=env, stdout=log, stderr=log
        )
        try:
            wait_for(
                lambda: b"fitting" in log_path.read_bytes() or proc.poll() is not None,
                timeout=120,
                what="the worker to start fitting",
            )
            assert proc.poll() is None, log_path.read_text()[-2000:]
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_killed_mid_fit_leaves_nothing_half_written(
    ctx: WorkerContext, db: Session, project: tuple[int, str], settings: Settings, tmp_path: Path
) -> None:
    pid, backbone = project
    centre = centres(CLUSTERS)
    labels = _labels(800)
    with ctx.sessions() as session:
        ids = add_images(session, pid, len(labels))
        embed(ctx, session, backbone, ids, vectors_for(labels, centre, seed=0))
    _kill_mid_fit(settings, pid, tmp_path / "worker.log")
    assert _points(db, pid) == {}
    assert db.get(EmbeddingMap, pid) is None
    folder = maps_dir(ctx, pid)
    leftovers = list(folder.iterdir()) if folder.exists() else []
    assert all(p.name.endswith(".tmp") for p in leftovers), leftovers  # no file named as done

    # The next update (the next embed, or a refresh) makes the whole map.
    with ctx.sessions() as session:
        assert update_map(ctx, session, pid, backbone).fitted == len(ids)
    assert sorted(_points(db, pid)) == ids
