"""The odd-pictures insight of a run: score every embedded image of the project.

Runs in the run's own transaction (``workers.insights``), so a failed or cancelled run
leaves no scores and a succeeded one always has them."""

from __future__ import annotations

import logging
import time

import numpy as np
from sqlalchemy.orm import Session

from app.insights import outliers
from app.training import dataset, embeddings
from app.training.models import TrainingRun
from workers.context import WorkerContext
from workers.ml.outliers import ranking, score_outliers

log = logging.getLogger(__name__)


def score_run(ctx: WorkerContext, session: Session, run: TrainingRun, data: dataset.Dataset) -> int:
    """Write the run's OutlierScore rows (rank 0 the most atypical); returns how many.

    The vectors are the run backbone's pretrained embeddings, for both modes: they are
    there for every image (a fine-tuned model's are not), and the labels are the run's
    training set, so what counts as typical is what the run learned from."""
    started = time.perf_counter()
    ids, locations = embeddings.project_locations(session, run.project_id, run.backbone)
    if not ids:
        return 0
    vectors = ctx.rows(run.backbone, locations)
    label_of = dict(zip(data.image_ids, data.labels, strict=True))
    labels = np.array([label_of.get(i, -1) for i in ids], dtype=np.int64)
    result = score_outliers(vectors, labels, seed=run.id)
    order = ranking(result.scores)
    outliers.replace_scores(
        session,
        run.id,
        run.project_id,
        [ids[n] for n in order],
        result.scores[order].tolist(),
        result.flagged[order].tolist(),
    )
    outliers.prune(session, run.project_id, run.id)  # 100,000 rows a run: keep a few runs
    log.info(
        "run %s: scored %d pictures for oddness (%d flagged) in %.1f s",
        run.id,
        len(ids),
        int(result.flagged.sum()),
        time.perf_counter() - started,
    )
    return len(ids)
