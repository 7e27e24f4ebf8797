"""The embedding map as the web reads it: every point of a project, and what colours it.

The points come from the worker's fit (``map_store``); the colours from the newest run
that succeeded (its predictions and odd-picture scores) and the images' current labels.
A run only changes the colours, never where a point sits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.images.models import Image, ImageStatus
from app.insights.models import EmbeddingMapPoint, OutlierScore
from app.projects.models import Project
from app.taxonomy.service import load_tree
from app.training.models import Embedding, Prediction
from app.training.prediction_queries import branch
from app.training.service import latest_model

STATUS_CODES = {ImageStatus.unlabeled: 0, ImageStatus.labeled: 1, ImageStatus.rejected: 2}
NONE = -1  # "no value" in the numeric columns (JSON arrays stay flat and typed)


@dataclass(frozen=True)
class MapPoint:
    image_id: int
    x: float
    y: float


@dataclass
class MapColumns:
    """The whole map in columns: row i of every list is one image (the page's format:
    100,000 points as ten flat arrays parse and draw far faster than as objects)."""

    run_id: int | None
    image_id: list[int] = field(default_factory=list)
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    status: list[int] = field(default_factory=list)  # STATUS_CODES
    label: list[int] = field(default_factory=list)  # category id, or NONE
    prediction: list[int] = field(default_factory=list)  # category id, or NONE
    disagrees: list[int] = field(default_factory=list)  # 1: labeled, predicted off-branch
    uncertainty: list[float] = field(default_factory=list)  # 0..1 entropy, or NONE
    outlier: list[float] = field(default_factory=list)  # 0..1, or NONE
    waiting: int = 0  # embedded images the worker has not put on the map yet


def newest_run_id(session: Session, project: Project) -> int | None:
    run = latest_model(session, project.id)
    return run.id if run is not None else None


def points(session: Session, project: Project) -> list[MapPoint]:
    rows = session.execute(
        select(EmbeddingMapPoint.image_id, EmbeddingMapPoint.x, EmbeddingMapPoint.y)
        .where(EmbeddingMapPoint.project_id == project.id)
        .order_by(EmbeddingMapPoint.image_id)
    )
    return [MapPoint(int(i), float(x), float(y)) for i, x, y in rows]


def waiting(session: Session, project: Project) -> int:
    """Embedded images without a point: the map is being made or extended."""
    on_map = select(EmbeddingMapPoint.image_id).where(
        EmbeddingMapPoint.image_id == Embedding.image_id
    )
    count = session.scalar(
        select(func.count())
        .select_from(Embedding)
        .join(Image, Image.id == Embedding.image_id)
        .where(
            Image.project_id == project.id,
            Embedding.backbone == project.backbone,
            Embedding.error.is_(None),
            ~on_map.exists(),
        )
    )
    return int(count or 0)


def _entropies(blobs: list[bytes]) -> np.ndarray:
    """Normalised entropy of each float16 probability row (all rows of one run are as
    wide as its classes), in one pass instead of one Python loop per image."""
    if not blobs:
        return np.zeros(0)
    width = len(blobs[0]) // 2
    if width < 2 or any(len(b) != 2 * width for b in blobs):
        return np.zeros(len(blobs))
    probs = np.frombuffer(b"".join(blobs), dtype="<f2").astype(np.float64).reshape(-1, width)
    probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(probs > 0, np.log(probs), 0.0)
    entropy = -(probs * logs).sum(axis=1) / np.log(width)
    clipped: np.ndarray = np.clip(np.round(entropy, 4), 0.0, 1.0)
    return clipped


def columns(session: Session, project: Project) -> MapColumns:
    run = latest_model(session, project.id)
    out = MapColumns(run_id=run.id if run is not None else None)
    rows = session.execute(
        select(
            EmbeddingMapPoint.image_id,
            EmbeddingMapPoint.x,
            EmbeddingMapPoint.y,
            Image.status,
            Image.category_id,
        )
        .join(Image, Image.id == EmbeddingMapPoint.image_id)
        .where(EmbeddingMapPoint.project_id == project.id)
        .order_by(EmbeddingMapPoint.image_id)
    ).all()
    predicted: dict[int, int] = {}
    uncertain: dict[int, float] = {}
    odd: dict[int, float] = {}
    if run is not None:
        found = session.execute(
            select(Prediction.image_id, Prediction.category_id, Prediction.probabilities).where(
                Prediction.run_id == run.id
            )
        ).all()
        entropies = _entropies([bytes(p) for _, _, p in found])
        for (image_id, category_id, _), entropy in zip(found, entropies, strict=True):
            predicted[image_id] = category_id
            uncertain[image_id] = float(entropy)
        scores = select(OutlierScore.image_id, OutlierScore.score).where(
            OutlierScore.run_id == run.id
        )
        odd = {int(i): float(score) for i, score in session.execute(scores)}
    tree = load_tree(session, project)
    branches: dict[int, set[int]] = {}
    for image_id, x, y, status, label in rows:
        guess = predicted.get(image_id, NONE)
        disagrees = 0
        if status is ImageStatus.labeled and label is not None and guess != NONE:
            agreeing = branches.get(guess)
            if agreeing is None:
                agreeing = branches[guess] = branch(tree, guess)
            disagrees = int(label not in agreeing)
        out.image_id.append(image_id)
        out.x.append(round(x, 4))
        out.y.append(round(y, 4))
        out.status.append(STATUS_CODES[status])
        out.label.append(label if label is not None and status is ImageStatus.labeled else NONE)
        out.prediction.append(guess)
        out.disagrees.append(disagrees)
        out.uncertainty.append(uncertain.get(image_id, NONE))
        out.outlier.append(round(float(odd[image_id]), 4) if image_id in odd else NONE)
    out.waiting = waiting(session, project)
    return out
