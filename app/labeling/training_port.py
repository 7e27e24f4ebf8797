"""What labeling needs from training, which sits above it: the queue's ranking and
suggestions, the auto-train trigger after new labels, and the grid's tiles with the
newest model's predictions.

Labeling must not import training (one-way layers), so training's implementations are
plugged in here by the composition roots (app.api; app.pages for the tiles); the SQL
stays in ``app.training.queue_inputs``, ``app.training.auto`` and ``app.browse.tiles``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from celery import Celery
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from app.images.labels_view import Labels, Tile
from app.images.models import Image
from app.projects.models import Project


class TrainingState(Protocol):
    @property
    def ranking(self) -> str | None: ...
    @property
    def model_run_id(self) -> int | None: ...
    @property
    def ranking_text(self) -> str: ...


class Suggested(Protocol):
    @property
    def category_id(self) -> int: ...
    @property
    def confidence(self) -> float: ...


class QueueInputs(Protocol):
    """The reads of ``app.training.queue_inputs`` (the module itself satisfies this)."""

    def training_state(
        self, session: Session, project: Project, wanted: str | None
    ) -> TrainingState: ...

    def ranked_ids(
        self,
        session: Session,
        project_id: int,
        strategy: str,
        conditions: Sequence[ColumnElement[bool]],
        limit: int,
    ) -> dict[int, int]: ...

    def unranked(self, project_id: int, strategy: str) -> ColumnElement[bool]: ...

    def suggestion(
        self, session: Session, run_id: int | None, image_id: int
    ) -> Suggested | None: ...

    def predicted_as(
        self, session: Session, project_id: int, category_ids: set[int]
    ) -> tuple[ColumnElement[bool], ColumnElement[float]] | None: ...

    def request_scoring(
        self, session: Session, celery: Celery, project: Project, strategy: str
    ) -> None: ...


# Called with the newest annotation's id after labels were recorded (auto-train).
AfterLabels = Callable[[Session, Celery, Project, int], object]

# The grid's tiles, each with the newest model's prediction (app.browse.tiles.tiles).
ModelTiles = Callable[[Session, Project, Labels, Sequence[Image]], list[Tile]]

_inputs: list[QueueInputs] = []
_after_labels: list[AfterLabels] = []
_model_tiles: list[ModelTiles] = []


def install(inputs: QueueInputs, after_labels: AfterLabels) -> None:
    """Plug training in (idempotent: the last call wins)."""
    _inputs[:] = [inputs]
    _after_labels[:] = [after_labels]


def queue_inputs() -> QueueInputs:
    if not _inputs:
        raise RuntimeError("training's queue inputs are not installed (import app.api)")
    return _inputs[0]


def labels_recorded(session: Session, celery: Celery, project: Project, newest: int) -> None:
    for hook in _after_labels:
        hook(session, celery, project, newest)


def install_tiles(make: ModelTiles) -> None:
    """Plug the tiles with predictions in (idempotent: the last call wins)."""
    _model_tiles[:] = [make]


def model_tiles(
    session: Session, project: Project, labels: Labels, images: Sequence[Image]
) -> list[Tile]:
    if not _model_tiles:
        raise RuntimeError("the tiles with predictions are not installed (import app.pages)")
    return _model_tiles[0](session, project, labels, images)
