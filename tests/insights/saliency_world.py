"""A project with flowers12 photos and a trained run whose model file is real, for the
saliency tests: the run row as a finished run leaves it, the TorchScript file as
``workers/training._export`` writes it (backbone, unit rows, probe, softmax)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import utcnow
from app.training.models import RunMode, RunStatus, TrainingRun
from app.training.service import run_dir
from tests.images.helpers import file_part, new_project, upload
from tests.support.datasets import FLOWERS12
from tests.support.env import require

PHOTOS = ("daisy/image_0879.jpg", "buttercup/image_1188.jpg", "pansy/image_1349.jpg")
SPECIES = ("buttercup", "daisy", "pansy")


@dataclass
class SaliencyWorld:
    project_id: int
    category_ids: list[int]  # in SPECIES order
    image_ids: list[int]  # in PHOTOS order
    run_id: int


def build(api: TestClient, db: Session, settings: Settings, name: str = "Flowers") -> SaliencyWorld:
    """Photos and categories through the API (as ``api``'s user, who manages the
    project); the run row and its model file as a finished run leaves them."""
    require((FLOWERS12 / "test").is_dir(), f"the flowers12 dataset is missing at {FLOWERS12}")
    pid = new_project(api, name)
    cats = [
        api.post(f"/api/v1/projects/{pid}/categories", json={"name": s}).json()["id"]
        for s in SPECIES
    ]
    parts = [
        file_part(p.replace("/", "-"), (FLOWERS12 / "test" / p).read_bytes(), "image/jpeg")
        for p in PHOTOS
    ]
    imported = upload(api, pid, parts)["imported"]
    assert isinstance(imported, list)
    image_ids = [int(item["id"]) for item in imported]
    run = add_run(db, pid, cats)
    return SaliencyWorld(pid, cats, image_ids, run.id)


def add_run(
    db: Session, project_id: int, category_ids: list[int], status: RunStatus = RunStatus.succeeded
) -> TrainingRun:
    run = TrainingRun(
        project_id=project_id,
        mode=RunMode.linear,
        backbone="efficientnet_lite0",
        status=status,
        phase="done" if status is RunStatus.succeeded else status.value,
        progress=1.0,
        classes=[[cid, f"class {cid}"] for cid in category_ids],
        finished_at=utcnow() if status is RunStatus.succeeded else None,
    )
    db.add(run)
    db.commit()
    return run


def write_model(settings: Settings, run_id: int, classes: int, seed: int = 0) -> Path:
    """A real exported linear-probe model for the run (a random probe: the maps are real
    Grad-CAM all the same). Imports torch: only tests that run a worker call it."""
    import torch

    from workers.ml.backbones import BACKBONES
    from workers.ml.export import export_torchscript, linear_classifier
    from workers.ml.linear import LinearModel

    rng = np.random.default_rng(seed)
    spec = BACKBONES["efficientnet_lite0"]
    probe = LinearModel(
        classes=np.arange(classes),
        coef=rng.normal(0, 1, (classes, spec.dim)).astype(np.float32),
        intercept=np.zeros(classes, dtype=np.float32),
    )
    module = linear_classifier(spec.name, probe, device=torch.device("cpu"))
    path = run_dir(settings, run_id) / "model.pt"
    export_torchscript(module, path, spec)
    return path


def fake_model(settings: Settings, run_id: int) -> None:
    """Model files that exist: enough for the web, which never opens them."""
    folder = run_dir(settings, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.pt").write_bytes(b"torchscript bytes")
