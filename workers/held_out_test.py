"""The project's test split, scored once by a run's final model.

``dataset.build`` keeps the test images out of what a run trains and tunes on; after
training, the model predicts them here and the figures are stored apart from the
validation ones (``RunMetrics.test``), so a user can tell tuning from testing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from sqlalchemy.orm import Session

from app.training import dataset, embeddings
from app.training.metrics import SplitScores
from workers.ml.backbones import BackboneSpec
from workers.ml.finetune import predict_files
from workers.ml.metrics import classification_metrics

Proba = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]


def _scores(
    data: dataset.Dataset, truth: list[int], probs: npt.NDArray[np.float32], columns: Sequence[int]
) -> SplitScores:
    if not truth:  # no test image in the run's classes yet: no score, not a zero
        return SplitScores(count=0, share=data.test_share)
    predicted = [int(columns[int(i)]) for i in np.argmax(probs, axis=1)]
    figures = classification_metrics(
        truth, predicted, [cid for cid, _ in data.classes], [n for _, n in data.classes]
    )
    return SplitScores(
        accuracy=float(figures["accuracy"]),  # type: ignore[arg-type]
        macro_f1=float(figures["macro_f1"]),  # type: ignore[arg-type]
        count=len(truth),
        share=data.test_share,
    )


def on_embeddings(
    session: Session,
    read: Callable[[Sequence[tuple[str, int]]], npt.NDArray[np.float32]],
    backbone: str,
    data: dataset.Dataset,
    proba: Proba,
    columns: Sequence[int],
) -> SplitScores | None:
    """Scores of a head on the test images' cached embeddings; ``columns`` are the
    category ids of ``proba``'s output columns; ``read`` gives the vectors at (shard, row)
    locations. None when the project keeps no split."""
    if data.test_share <= 0:
        return None
    found = embeddings.locations(session, data.test_image_ids, backbone)
    keep = [n for n, image_id in enumerate(data.test_image_ids) if image_id in found]
    truth = [data.test_labels[n] for n in keep]
    if not keep:
        return _scores(data, [], np.zeros((0, len(columns)), dtype=np.float32), columns)
    rows = read([found[data.test_image_ids[n]] for n in keep])
    return _scores(data, truth, proba(rows), columns)


def on_files(
    model: torch.nn.Module,
    paths: Sequence[Path],
    data: dataset.Dataset,
    spec: BackboneSpec,
    device: torch.device,
    columns: Sequence[int],
) -> SplitScores | None:
    """Scores of a fine-tuned model on the test images' files (``paths`` in
    ``data.test_image_ids`` order); an unreadable file is left out of the count."""
    if data.test_share <= 0:
        return None
    probs, errors = predict_files(model, list(paths), spec, device=device)
    truth = [label for n, label in enumerate(data.test_labels) if n not in errors]
    return _scores(data, truth, probs, columns)
