"""One training run, start to finish: embed, train, evaluate, predict, score; then export.

The phases report progress on the run's row; a user's cancel is seen at the next
report. A thread writes the heartbeat meanwhile, so a cross-validation or a final fit
that takes minutes without a report still shows the run alive. Everything the run
learns is written in one transaction at the end, so a run that fails or is cancelled
leaves no half-written predictions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.background.heartbeat import Heartbeat
from app.background.owners import Claim, Owner
from app.images.models import Image
from app.projects.models import Project
from app.training import dataset, embeddings, jobs, predictions
from app.training.metrics import RunMetrics
from app.training.models import RunMode, TrainingRun
from workers import exporting, held_out_test
from workers.context import WorkerContext
from workers.embedding import embed_missing
from workers.insights import score_insights
from workers.ml import export, heads
from workers.ml.backbones import get_spec
from workers.ml.device import resolve_device
from workers.ml.finetune import FinetuneConfig, finetune, predict_files
from workers.ml.metrics import classification_metrics
from workers.node import owner_of
from workers.progress import Cancelled, Progress
from workers.scoring import score_project, strategies_to_score

PREDICT_CHUNK = 20_000  # embeddings read and predicted at a time: bounded memory
log = logging.getLogger(__name__)


def run_training(
    ctx: WorkerContext, run_id: int, owner: Owner | None = None, task_id: str | None = None
) -> Claim:
    """Claim the run and run it, its heartbeat beating from a thread meanwhile."""
    owner = owner or owner_of(None)
    with ctx.sessions() as session:
        claimed = jobs.claim(session, run_id, owner, task_id, ctx.settings.job_stale_after)
        if claimed is not Claim.claimed:
            return claimed  # finished, cancelled, or another worker is on it
        heartbeat = Heartbeat(
            lambda: jobs.beat(ctx.sessions, run_id, owner),
            ctx.settings.job_heartbeat_interval,
            name=f"run-{run_id}-heartbeat",
        )
        try:
            with heartbeat:
                _run(ctx, session, run_id, Progress(session, run_id, owner, heartbeat))
        except jobs.Lost:
            session.rollback()
            log.warning("run %s is no longer this worker's (reaped or taken over)", run_id)
        except Cancelled:
            jobs.mark_cancelled(session, run_id, owner)
        except Exception as exc:
            jobs.fail(session, run_id, owner, jobs.describe(exc))
            raise
    return Claim.claimed


def _run(ctx: WorkerContext, session: Session, run_id: int, progress: Progress) -> None:
    run = session.get_one(TrainingRun, run_id)
    project = session.get_one(Project, run.project_id)
    device = resolve_device(ctx.settings.ml_device)
    data = dataset.build(session, project, run.level)
    dataset.check_trainable(data, run.level)

    progress.enter("embedding")
    embed_missing(
        ctx, session, project.id, run.backbone, lambda done, total: _go(progress, done / total)
    )

    progress.enter("training")
    if run.mode is RunMode.linear:
        result = _linear(ctx, session, run, data, progress)
    else:
        result = _finetune(ctx, session, run, data, progress, device)

    progress.enter("predicting")
    class_ids = [cid for cid, _ in data.classes]
    rows = list(result.predict_all(lambda f: progress.check(f)))
    predictions.write_samples(session, run.id, result.samples)
    predictions.write_predictions(session, run.id, (_row(i, p, class_ids) for i, p in rows))
    # The run's row is written last: on PostgreSQL its lock would hold the heartbeat up
    # for as long as the predictions take to insert.
    run.classes = [[cid, name] for cid, name in data.classes]
    run.metrics = result.metrics.stored()
    run.report = {**data.report(), **result.report}
    run.label_count = result.used
    run.params = {**run.params, **result.params}
    session.commit()  # the predictions exist before the ranking that reads them

    progress.enter("scoring")
    for strategy in strategies_to_score(session, project):
        score_project(ctx, session, project, strategy, run)

    progress.enter("insights")
    score_insights(ctx, session, run, data, result.oof_probabilities)

    predictions.prune(session, project.id)
    jobs.succeed(session, run, progress.owner, str(device))
    # After the run is done: the suggestions and the queue already use the new model,
    # and writing the TorchScript and ONNX files takes longer than the training itself.
    labeled = exporting.labeled_files(ctx, session, run, data, result.column_ids)
    exporting.export(ctx, run, result.module(), result.column_ids, dict(data.classes), labeled)


def _go(progress: Progress, fraction: float) -> bool:
    progress.check(fraction)
    return True


def _row(image_id: int, probs: np.ndarray, class_ids: list[int]) -> tuple[int, int, float, bytes]:
    best = int(np.argmax(probs))
    return image_id, class_ids[best], float(probs[best]), probs.astype("<f2").tobytes()


Sample = tuple[int, int, int, int | None]  # image, annotation, true class, predicted class


@dataclass(frozen=True)
class Result:
    """What a trained model gives the rest of the run, whichever the mode."""

    metrics: RunMetrics
    samples: Sequence[Sample]
    predict_all: Callable[[Callable[[float], None]], Iterator[tuple[int, np.ndarray]]]
    module: Callable[[], torch.nn.Module]
    used: int  # labeled images the model learned from
    report: dict[str, Any]
    params: dict[str, Any]
    # Out-of-fold class probabilities of the labeled images the model was evaluated on,
    # rows in ``samples`` order, columns in the run's class order; None when the mode
    # has none (fine-tuning holds out one split: the insights fit a probe instead).
    oof_probabilities: np.ndarray | None = None
    # The exported module's output columns, as category ids: the classes sorted by id
    # (the estimators' order), not the run's class order, which is sorted by name.
    column_ids: Sequence[int] = ()


def _linear(
    ctx: WorkerContext,
    session: Session,
    run: TrainingRun,
    data: dataset.Dataset,
    progress: Progress,
) -> Result:
    found = embeddings.locations(session, data.image_ids, run.backbone)
    keep = [n for n, image_id in enumerate(data.image_ids) if image_id in found]
    x = ctx.rows(run.backbone, [found[data.image_ids[n]] for n in keep])
    y = np.array([data.labels[n] for n in keep])
    head = run.head or "logreg"
    c = float(run.params["C"]) if "C" in run.params else None  # None: the head's default
    folds = int(run.params.get("folds", 5))
    device = resolve_device(ctx.settings.ml_device)  # the MLP head trains with torch
    # Probabilities, not only labels: the label-issue insight reads them (out of fold).
    oof_probs = heads.cross_val_proba(
        head, x, y, folds=folds, seed=run.id, C=c, device=device,
        progress=lambda f: progress.check(0.7 * f),  # a cancel is seen after each fold
    )  # fmt: skip
    present = np.unique(y)
    oof = present[np.argmax(oof_probs, axis=1)]
    progress.check(0.7)
    model = heads.fit_head(head, x, y, C=c, seed=run.id, device=device)
    class_ids = [cid for cid, _ in data.classes]
    in_run_order = np.zeros((len(y), len(class_ids)), dtype=np.float32)
    for column, cid in enumerate(class_ids):
        if cid in present:  # a class whose images all failed to embed has no column
            in_run_order[:, column] = oof_probs[:, int(np.searchsorted(present, cid))]
    metrics = RunMetrics.model_validate(
        classification_metrics(
            y.tolist(), oof.tolist(), class_ids, [name for _, name in data.classes]
        )
    )
    samples: list[Sample] = [
        (data.image_ids[n], data.annotation_ids[n], data.labels[n], int(p))
        for n, p in zip(keep, oof, strict=True)
    ]
    smallest = int(np.unique(y, return_counts=True)[1].min())
    used_folds = max(2, min(folds, smallest))  # as linear.cross_val_proba caps them
    metrics.test = held_out_test.on_embeddings(
        session, lambda where: ctx.rows(run.backbone, where), run.backbone, data,
        lambda rows: heads.predict_proba(model, rows), [int(c) for c in model.classes],
    )  # fmt: skip

    def predict_all(check: Callable[[float], None]) -> Iterator[tuple[int, np.ndarray]]:
        ids, locations = embeddings.project_locations(session, run.project_id, run.backbone)
        for start in range(0, len(ids), PREDICT_CHUNK):
            probs = heads.predict_proba(
                model, ctx.rows(run.backbone, locations[start : start + PREDICT_CHUNK])
            )
            # Columns come in model.classes order; the run's class order is class_ids.
            order = [int(np.searchsorted(model.classes, cid)) for cid in class_ids]
            yield from zip(ids[start : start + PREDICT_CHUNK], probs[:, order], strict=True)
            check(min(1.0, (start + PREDICT_CHUNK) / max(len(ids), 1)))

    return Result(
        metrics=metrics,
        samples=samples,
        predict_all=predict_all,
        column_ids=[int(c) for c in model.classes],
        module=lambda: export.head_classifier(
            run.backbone, heads.module(model), x.shape[1], device=torch.device("cpu")
        ),
        used=len(keep),
        report={
            "evaluation": f"{used_folds}-fold cross-validation",
            # The page says "5 asked, 3 used" from these, so it agrees with the params.
            "folds_used": used_folds,
            "smallest_class": smallest,
            "unreadable": len(data.image_ids) - len(keep),
        },
        params={**heads.params(head, c), "folds": folds},
        oof_probabilities=in_run_order,
    )


def _finetune(
    ctx: WorkerContext,
    session: Session,
    run: TrainingRun,
    data: dataset.Dataset,
    progress: Progress,
    device: torch.device,
) -> Result:
    sha = dict(
        session.execute(
            select(Image.id, Image.sha256).where(Image.project_id == run.project_id)
        ).all()
    )
    paths = ctx.originals([sha[i] for i in data.image_ids])
    known = {k: v for k, v in run.params.items() if k in FinetuneConfig.__dataclass_fields__}
    config = FinetuneConfig(**{**known, "seed": run.id})
    y = np.array(data.labels)
    trained = finetune(
        paths,
        y,
        run.backbone,
        device=device,
        config=config,
        allow_download=ctx.settings.allow_weight_download,
        progress=lambda f: progress.check(f),
        should_stop=progress.stop_requested,
    )
    class_ids = [cid for cid, _ in data.classes]
    val_true = y[trained.val_index]
    evaluated = classification_metrics(
        val_true.tolist(), trained.val_pred.tolist(), class_ids, [n for _, n in data.classes]
    )
    metrics = RunMetrics.model_validate(
        {**evaluated, "history": trained.history, "best_epoch": trained.best_epoch}
    )
    predicted = dict(zip(trained.val_index.tolist(), trained.val_pred.tolist(), strict=True))
    samples: list[Sample] = [
        (data.image_ids[n], data.annotation_ids[n], data.labels[n], predicted.get(n))
        for n in range(len(data.image_ids))
    ]
    spec = get_spec(run.backbone)
    metrics.test = held_out_test.on_files(
        trained.model, ctx.originals([sha[i] for i in data.test_image_ids]),
        data, spec, device, [int(c) for c in trained.classes],
    )  # fmt: skip

    def predict_all(check: Callable[[float], None]) -> Iterator[tuple[int, np.ndarray]]:
        ids = sorted(sha)
        chunk = 512
        order = [int(np.searchsorted(trained.classes, cid)) for cid in class_ids]
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            probs, errors = predict_files(
                trained.model, ctx.originals([sha[i] for i in part]), spec, device=device
            )
            ok = [i for n, i in enumerate(part) if n not in errors]
            yield from zip(ok, probs[:, order], strict=True)
            check(min(1.0, (start + chunk) / max(len(ids), 1)))

    return Result(
        metrics=metrics,
        samples=samples,
        predict_all=predict_all,
        column_ids=[int(c) for c in trained.classes],
        module=lambda: export.with_softmax(trained.model.cpu()),
        used=len(data.image_ids),
        report={
            "evaluation": f"held-out split ({len(trained.val_index)} images)",
            "augmentation": trained.augmentation,
        },
        params={k: getattr(config, k) for k in FinetuneConfig.__dataclass_fields__},
    )
