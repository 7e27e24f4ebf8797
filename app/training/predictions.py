"""A run's stored results: predictions for every image, and the evaluated samples."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from app.images.models import Image
from app.training.models import Prediction, RunStatus, TrainingRun, TrainingSample

BATCH = 2000
KEEP_RUNS = 5  # predictions of older runs are dropped; their metrics stay


@dataclass(frozen=True)
class Suggestion:
    category_id: int
    confidence: float
    run_id: int


def write_samples(
    session: Session,
    run_id: int,
    rows: Iterable[tuple[int, int, int, int | None]],  # image, annotation, true, predicted
) -> None:
    batch: list[dict[str, object]] = []
    for image_id, annotation_id, true_id, predicted_id in rows:
        batch.append(
            {
                "run_id": run_id,
                "image_id": image_id,
                "annotation_id": annotation_id,
                "true_id": true_id,
                "predicted_id": predicted_id,
            }
        )
        if len(batch) >= BATCH:
            session.execute(insert(TrainingSample), batch)
            batch = []
    if batch:
        session.execute(insert(TrainingSample), batch)


def write_predictions(
    session: Session,
    run_id: int,
    rows: Iterable[tuple[int, int, float, bytes]],  # image, category, confidence, probs
) -> int:
    written = 0
    batch: list[dict[str, object]] = []
    for image_id, category_id, confidence, probabilities in rows:
        batch.append(
            {
                "run_id": run_id,
                "image_id": image_id,
                "category_id": category_id,
                "confidence": confidence,
                "probabilities": probabilities,
            }
        )
        if len(batch) >= BATCH:
            session.execute(insert(Prediction), batch)
            written += len(batch)
            batch = []
    if batch:
        session.execute(insert(Prediction), batch)
        written += len(batch)
    return written


def prune(session: Session, project_id: int) -> None:
    """Keep the predictions of the newest ``KEEP_RUNS`` successful runs only."""
    keep = select(TrainingRun.id).where(
        TrainingRun.project_id == project_id, TrainingRun.status == RunStatus.succeeded
    )
    old = session.scalars(keep.order_by(TrainingRun.id.desc()).offset(KEEP_RUNS)).all()
    if old:
        session.execute(delete(Prediction).where(Prediction.run_id.in_(old)))


def for_image(session: Session, run_id: int, image_id: int) -> Suggestion | None:
    row = session.execute(
        select(Prediction.category_id, Prediction.confidence).where(
            Prediction.run_id == run_id, Prediction.image_id == image_id
        )
    ).first()
    return None if row is None else Suggestion(row[0], float(row[1]), run_id)


def all_for_run(session: Session, run_id: int) -> dict[int, tuple[int, float]]:
    return {
        image_id: (category_id, float(confidence))
        for image_id, category_id, confidence in session.execute(
            select(Prediction.image_id, Prediction.category_id, Prediction.confidence).where(
                Prediction.run_id == run_id
            )
        )
    }


def cell_images(
    session: Session, run_id: int, true_id: int, predicted_id: int, limit: int = 200
) -> Sequence[Image]:
    """The evaluated images of one confusion-matrix cell."""
    return session.scalars(
        select(Image)
        .join(TrainingSample, TrainingSample.image_id == Image.id)
        .where(
            TrainingSample.run_id == run_id,
            TrainingSample.true_id == true_id,
            TrainingSample.predicted_id == predicted_id,
        )
        .order_by(Image.id)
        .limit(limit)
    ).all()
