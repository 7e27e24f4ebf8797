"""After a run is trained and its predictions written: what the model says back about
the data (label issues, odd pictures). Written in the run's own transaction, before it
is marked succeeded, so a succeeded run always has its insights."""

from __future__ import annotations

import numpy as np
from sqlalchemy.orm import Session

from app.training import dataset
from app.training.models import TrainingRun
from workers import label_issues, outliers
from workers.context import WorkerContext


def score_insights(
    ctx: WorkerContext,
    session: Session,
    run: TrainingRun,
    data: dataset.Dataset,
    oof_probabilities: np.ndarray | None,
) -> None:
    """Each insight scores the run's project and writes its rows (no commit here)."""
    # One line per insight, added by the module that computes it.
    outliers.score_run(ctx, session, run, data)
    label_issues.score_run(ctx, session, run, data, oof_probabilities)
    del ctx, session, run, data, oof_probabilities
