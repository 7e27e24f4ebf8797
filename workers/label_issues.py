"""The label-issue insight of a run: score every labeled image the run learned from.

Runs in the run's own transaction (``workers.insights``), so a failed, cancelled or
killed run leaves no rows and a succeeded one always has them. The given label is the
class the run trained on (the image's category rolled up to the run's level), never the
image's category as it is now.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from sqlalchemy.orm import Session

from app.insights import label_issues
from app.training import dataset, embeddings
from app.training.models import TrainingRun
from workers.context import WorkerContext
from workers.ml.label_quality import score_labels
from workers.ml.linear import DEFAULT_C, cross_val_proba

log = logging.getLogger(__name__)


def score_run(
    ctx: WorkerContext,
    session: Session,
    run: TrainingRun,
    data: dataset.Dataset,
    oof: np.ndarray | None,
) -> int:
    """Write the run's LabelIssue rows (rank 0 the most likely wrong); returns how many.

    ``oof`` are the run's out-of-fold probabilities (rows: the labeled images that have
    an embedding, in ``data`` order; columns: the run's classes). A fine-tuning run has
    none: the linear probe's are fitted here on the run backbone's cached embeddings
    (the run embedded every image first), with the same labels.
    """
    started = time.perf_counter()
    found = embeddings.locations(session, data.image_ids, run.backbone)
    keep = [n for n, image_id in enumerate(data.image_ids) if image_id in found]
    class_ids = [cid for cid, _ in data.classes]
    column = {cid: j for j, cid in enumerate(class_ids)}
    given = np.array([column[data.labels[n]] for n in keep], dtype=np.intp)
    if len(np.unique(given)) < 2:
        return 0  # nothing to tell a label from: every readable image has one class
    x = ctx.rows(run.backbone, [found[data.image_ids[n]] for n in keep])
    folds = int(run.params.get("folds", 5))
    c = float(run.params.get("C", DEFAULT_C))
    if oof is None or oof.shape != (len(keep), len(class_ids)):
        # Fine-tuning (no out-of-fold probabilities), or the embedded set changed since
        # training (another worker embedded more): the probe's, on exactly these rows.
        try:
            oof = _probe_oof(x, given, len(class_ids), folds=folds, seed=run.id, C=c)
        except ValueError as exc:  # too few rows to cross-validate at all
            log.info("run %s: labels not scored (%s)", run.id, exc)
            return 0
    scored = score_labels(given, oof, x, folds=folds, seed=run.id, C=c)
    # Ties (rare) keep image id order: data.image_ids is sorted.
    order = np.argsort(-scored.score, kind="stable")
    label_issues.replace_issues(
        session,
        run.id,
        run.project_id,
        [
            label_issues.IssueRow(
                image_id=data.image_ids[keep[n]],
                given_category_id=class_ids[int(given[n])],
                suggested_category_id=class_ids[int(scored.suggested[n])],
                score=float(scored.score[n]),
                flagged=bool(scored.flagged[n]),
            )
            for n in order
        ],
    )
    label_issues.prune(session, run.project_id, run.id)
    log.info(
        "run %s: scored %d labels (%d flagged) in %.1f s",
        run.id,
        len(keep),
        int(scored.flagged.sum()),
        time.perf_counter() - started,
    )
    return len(keep)


def _probe_oof(
    x: np.ndarray, given: np.ndarray, n_classes: int, *, folds: int, seed: int, C: float
) -> np.ndarray:
    present = np.unique(given)
    out = np.zeros((len(given), n_classes), dtype=np.float32)
    out[:, present] = cross_val_proba(x, given, folds=folds, seed=seed, C=C)
    return out
