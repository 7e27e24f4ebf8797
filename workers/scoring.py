"""Rank a project's unlabeled images for the active-learning queue."""

from __future__ import annotations

import time

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.images.models import Image, ImageStatus
from app.projects.models import Project
from app.training import embeddings, ranks
from app.training.models import Prediction, TrainingRun
from workers.context import WorkerContext
from workers.ml.strategies import rank


def _probabilities(session: Session, run: TrainingRun, image_ids: list[int]) -> np.ndarray:
    stored = dict(
        session.execute(
            select(Prediction.image_id, Prediction.probabilities).where(Prediction.run_id == run.id)
        ).all()
    )
    k = len(run.classes or [])
    out = np.full((len(image_ids), k), 1.0 / max(k, 1), dtype=np.float32)
    for n, image_id in enumerate(image_ids):
        blob = stored.get(image_id)
        if blob is not None:
            out[n] = np.frombuffer(blob, dtype="<f2").astype(np.float32)
    return out


def score_project(
    ctx: WorkerContext,
    session: Session,
    project: Project,
    strategy: str,
    run: TrainingRun | None,
) -> int:
    """Rank the unlabeled, not rejected, embedded images; returns the pool size."""
    started = time.perf_counter()
    backbone = run.backbone if run is not None else project.backbone
    ids, locations = embeddings.project_locations(session, project.id, backbone)
    status = dict(
        session.execute(select(Image.id, Image.status).where(Image.project_id == project.id)).all()
    )
    pool = np.array(
        [n for n, i in enumerate(ids) if status.get(i) == ImageStatus.unlabeled], dtype=np.int64
    )
    labeled = np.array(
        [n for n, i in enumerate(ids) if status.get(i) == ImageStatus.labeled], dtype=np.int64
    )
    vectors = ctx.rows(backbone, locations) if ids else np.zeros((0, 1))
    pool_ids = [ids[n] for n in pool]
    probs = _probabilities(session, run, pool_ids) if run is not None and run.classes else None
    concrete = strategy
    order_ids: list[int] = []
    scores: list[float] = []
    if len(pool):
        ranking = rank(
            strategy,
            embeddings=vectors,
            pool=pool,
            labeled=labeled,
            probs=probs,
            seed=run.id if run is not None else 0,
        )
        concrete = ranking.strategy
        order_ids = [pool_ids[n] for n in ranking.order]
        scores = [float(ranking.scores[n]) for n in ranking.order]
    ranks.replace(
        session,
        project.id,
        strategy,
        concrete=concrete,
        run_id=run.id if run is not None else None,
        image_ids=order_ids,
        scores=scores,
        seconds=time.perf_counter() - started,
    )
    session.commit()
    return len(order_ids)


def strategies_to_score(session: Session, project: Project) -> list[str]:
    """The project's default, and every strategy a labeling session has asked for."""
    wanted = [project.default_strategy]
    for scoring in ranks.latest(session, project.id):
        if scoring.strategy not in wanted:
            wanted.append(scoring.strategy)
    return wanted
