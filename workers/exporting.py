"""A run's model files: written after the run succeeded, then sent to the store.

On file:// they are written beside their folder and renamed into place; elsewhere in a
staging folder of the worker's cache and uploaded with model.json last. Either way a
download never sees half a model.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import torch
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.images.models import Image
from app.training import dataset, download
from app.training.models import TrainingRun
from workers.context import WorkerContext
from workers.ml import export as ml_export
from workers.ml import model_files
from workers.ml.backbones import get_spec


def labeled_files(
    ctx: WorkerContext,
    session: Session,
    run: TrainingRun,
    data: dataset.Dataset,
    column_ids: Sequence[int],
) -> list[model_files.Labeled]:
    """The run's training images (never its test split) with their true output columns:
    the exports are checked, and int8 calibrated and judged, on them."""
    sha = dict(
        session.execute(
            select(Image.id, Image.sha256).where(Image.project_id == run.project_id)
        ).all()
    )
    column = {cid: n for n, cid in enumerate(column_ids)}
    kept = [
        (sha[i], column[label])
        for i, label in zip(data.image_ids, data.labels, strict=True)
        if i in sha and label in column  # a class that lost all its images has no column
    ]
    paths = ctx.originals([s for s, _ in kept])
    return [model_files.Labeled(p, c) for p, (_, c) in zip(paths, kept, strict=True)]


def export(
    ctx: WorkerContext,
    run: TrainingRun,
    module: torch.nn.Module,
    column_ids: Sequence[int],
    names: dict[int, str],
    labeled: Sequence[model_files.Labeled],
) -> None:
    prefix = download.model_prefix(run.id)
    folder: Path | None = None
    if ctx.cache.is_local:
        folder = ctx.cache.local_dir(prefix)  # the store's own folder
        # Written aside and renamed into place: a download never sees half a model.
        staging = folder.with_name(f".{run.id}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
    else:
        # This process's own staging folder: the cache's eviction leaves it alone while
        # the process lives, and takes it after a kill -9.
        staging = ctx.cache.staging_dir()
    spec = get_spec(run.backbone)
    meta = ml_export.preprocessing_json(spec, [names[cid] for cid in column_ids])
    meta["category_ids"] = list(column_ids)
    model_files.write_model_files(
        module, staging, spec, {"run_id": run.id, **meta}, labeled, seed=run.id
    )
    if folder is None:
        try:
            ctx.cache.publish_folder(prefix, staging, last=download.META)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
