"""Reading a run's predictions: filtered and paged for the API, and for the image pages.

A prediction names a class at the run's level. It agrees with an image's label when the
two lie on one branch of the taxonomy: the class is the label's ancestor at that level
(or the label itself), or the label sits above the level and the class refines it. Any
other pair is a disagreement. Trees are small, so the branch sets are worked out in
Python and handed to SQL as id lists.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from sqlalchemy import BigInteger, ColumnElement, and_, bindparam, false, func, literal, select
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from app.images.models import Image, ImageStatus
from app.projects.models import Project
from app.taxonomy.service import Tree, category_in_project, load_tree
from app.training.models import Prediction, RunStatus, TrainingRun
from app.training.predictions import KEEP_RUNS
from app.training.service import latest_model

_PAIR = 2**31  # ids are 32-bit: label * _PAIR + class is one distinct integer


@dataclass(frozen=True)
class PredictionFilter:
    category_id: int | None = None  # predicted as it or anything in its sub-tree
    min_confidence: float | None = None
    max_confidence: float | None = None
    disagrees: bool = False  # labeled, and the prediction is off the label's branch

    def __post_init__(self) -> None:
        low, high = self.min_confidence, self.max_confidence
        if low is not None and high is not None and low > high:
            raise InvalidInput("min_confidence is above max_confidence: nothing could match.")

    @property
    def active(self) -> bool:
        return self != PredictionFilter()


@dataclass(frozen=True)
class PredictionItem:
    image_id: int
    category_id: int
    confidence: float
    uncertainty: float


@dataclass(frozen=True)
class PredictionPage:
    run_id: int | None  # None: the project has no run that succeeded yet
    items: list[PredictionItem]
    total: int


@dataclass(frozen=True)
class Shown:
    """One image's prediction as a tile shows it."""

    category_id: int
    confidence: float


def run_for(session: Session, project: Project, run_id: int | None) -> TrainingRun | None:
    """The run asked for, or the latest that succeeded (None if there is none)."""
    if run_id is None:
        return latest_model(session, project.id)
    run = session.get(TrainingRun, run_id)
    if run is None or run.project_id != project.id:
        raise NotFound(f"No training run with id {run_id}.")
    if run.status is not RunStatus.succeeded:
        raise Conflict(
            f"Training run {run_id} has {run.status.value}; only a run that succeeded "
            "has predictions."
        )
    return run


def branch(tree: Tree, category_id: int) -> set[int]:
    """The category, its ancestors and its descendants: what agrees with it."""
    found = {category_id, *tree.descendants(category_id)}
    node = tree.by_id.get(category_id)
    while node is not None and node.parent_id is not None:
        found.add(node.parent_id)
        node = tree.by_id.get(node.parent_id)
    return found


def agrees(tree: Tree, label_id: int, predicted_id: int) -> bool:
    return label_id in branch(tree, predicted_id)


def _classes(run: TrainingRun) -> list[int]:
    return [int(c[0]) for c in run.classes or []]


def disagreement(tree: Tree, run: TrainingRun) -> ColumnElement[bool]:
    """On ``Prediction`` and ``Image``: labeled, and predicted off the label's branch.

    Each agreeing (label, class) pair is one integer, so the test is a single ``NOT IN``
    over a constant list, which both databases look up by hash or b-tree rather than
    trying one branch per class on each of 100,000 rows.
    """
    agreeing = sorted(
        label_id * _PAIR + cid for cid in _classes(run) for label_id in branch(tree, cid)
    )
    pair = Image.category_id * literal(_PAIR, BigInteger) + Prediction.category_id
    return and_(
        Image.status == ImageStatus.labeled,
        Image.category_id.is_not(None),
        pair.not_in(bindparam("agreeing", agreeing, expanding=True, literal_execute=True)),
    )


def conditions(tree: Tree, run: TrainingRun, f: PredictionFilter) -> list[ColumnElement[bool]]:
    """The filter on ``Prediction`` (and ``Image``, for disagreements) of one run."""
    where: list[ColumnElement[bool]] = [Prediction.run_id == run.id]
    if f.category_id is not None:
        wanted = {f.category_id, *tree.descendants(f.category_id)}
        where.append(Prediction.category_id.in_(wanted))
    if f.min_confidence is not None:
        where.append(Prediction.confidence >= f.min_confidence)
    if f.max_confidence is not None:
        where.append(Prediction.confidence <= f.max_confidence)
    if f.disagrees:
        where.append(disagreement(tree, run))
        if f.category_id is None:
            # Always true; it steers SQLite to the (run, image) key, read in image order,
            # rather than the (run, category) index, which reaches rows in random order.
            where.append(Prediction.image_id > 0)
    return where


def image_condition(
    session: Session, project: Project, run: TrainingRun | None, f: PredictionFilter
) -> ColumnElement[bool]:
    """On ``Image`` (for the gallery): the run predicted the image and the filter holds."""
    if run is None:
        return false()  # no model: nothing is predicted as anything
    tree = _checked_tree(session, project, f)
    where = conditions(tree, run, f)
    return select(Prediction.image_id).where(Prediction.image_id == Image.id, *where).exists()


def _checked_tree(session: Session, project: Project, f: PredictionFilter) -> Tree:
    if f.category_id is not None:
        category_in_project(session, project, f.category_id)  # another project's: 404
    return load_tree(session, project)


def uncertainty(probabilities: bytes) -> float:
    """The entropy of the class probabilities over its maximum, log(classes): 0..1."""
    probs = _decode(probabilities)
    if len(probs) < 2:
        return 0.0
    total = sum(probs) or 1.0
    entropy = -sum(p / total * math.log(p / total) for p in probs if p > 0)
    return round(min(1.0, max(0.0, entropy / math.log(len(probs)))), 6)


def _decode(probabilities: bytes) -> list[float]:
    return [float(p) for p in struct.unpack(f"<{len(probabilities) // 2}e", probabilities)]


def page(
    session: Session,
    project: Project,
    run: TrainingRun | None,
    f: PredictionFilter,
    *,
    limit: int,
    offset: int,
) -> PredictionPage:
    """The run's predictions in image id order: one count, one page."""
    if run is None:
        _checked_tree(session, project, f)
        return PredictionPage(None, [], 0)
    where = conditions(_checked_tree(session, project, f), run, f)
    counted = select(func.count()).select_from(Prediction)
    listed = select(
        Prediction.image_id, Prediction.category_id, Prediction.confidence, Prediction.probabilities
    )
    if f.disagrees:  # only a disagreement reads the image's label
        counted = counted.join(Image, Image.id == Prediction.image_id)
        listed = listed.join(Image, Image.id == Prediction.image_id)
    total = session.scalar(counted.where(*where)) or 0
    if total == 0 and not f.active:
        _check_kept(session, run)
    rows = session.execute(
        listed.where(*where).order_by(Prediction.image_id).limit(limit).offset(offset)
    ).all()
    items = [
        PredictionItem(image_id, category_id, round(float(confidence), 6), uncertainty(probs))
        for image_id, category_id, confidence, probs in rows
    ]
    return PredictionPage(run.id, items, total)


def _check_kept(session: Session, run: TrainingRun) -> None:
    """A run with no prediction rows at all had them dropped as older runs came in."""
    newer = session.scalar(
        select(func.count()).where(
            TrainingRun.project_id == run.project_id,
            TrainingRun.status == RunStatus.succeeded,
            TrainingRun.id > run.id,
        )
    )
    if (newer or 0) >= KEEP_RUNS:
        raise Conflict(
            f"Training run {run.id}'s predictions were dropped: only the newest {KEEP_RUNS} "
            "runs that succeeded keep theirs."
        )


def for_images(session: Session, run_id: int, image_ids: list[int]) -> dict[int, Shown]:
    """The run's predictions for a page of images."""
    if not image_ids:
        return {}
    rows = session.execute(
        select(Prediction.image_id, Prediction.category_id, Prediction.confidence).where(
            Prediction.run_id == run_id, Prediction.image_id.in_(image_ids)
        )
    )
    return {i: Shown(c, float(p)) for i, c, p in rows}


def top_classes(session: Session, run: TrainingRun, image_id: int, k: int = 3) -> list[Shown]:
    """The run's ``k`` most probable classes for the image, most probable first."""
    probs = session.scalar(
        select(Prediction.probabilities).where(
            Prediction.run_id == run.id, Prediction.image_id == image_id
        )
    )
    if probs is None:
        return []
    ranked = sorted(zip(_classes(run), _decode(probs), strict=False), key=lambda c: -c[1])
    return [Shown(cid, p) for cid, p in ranked[:k]]
