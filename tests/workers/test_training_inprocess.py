"""The training job in this process (no Celery): fine-tune mode end to end, and cancel.

The Celery path is covered by test_training_job.py; here the job's own logic runs on a
few real photos, fast enough for every test run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.images.storage import ImageStore
from app.imports.folder_import import import_folder
from app.training import service
from app.training.models import Prediction, RunStatus, TrainingRun
from tests.conftest import ClientFor
from tests.images.helpers import new_project
from tests.support.datasets import FLOWERS12
from tests.support.env import require
from workers.context import WorkerContext
from workers.training import run_training

FLOWERS = FLOWERS12
SPECIES = ("daisy", "iris", "pansy")


@pytest.fixture
def small_flowers(tmp_path: Path) -> Path:
    """Three species, six photos each: a copy in the test's temp dir, not in the repo."""
    require((FLOWERS / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS}")
    root = tmp_path / "small"
    for species in SPECIES:
        (root / species).mkdir(parents=True)
        for photo in sorted((FLOWERS / "train" / species).glob("*.jpg"))[:6]:
            shutil.copy(photo, root / species / photo.name)
    return root


def _context(settings: Settings) -> WorkerContext:
    settings = settings.model_copy(update={"ml_device": "cpu", "allow_weight_download": False})
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    return WorkerContext(settings, sessions, ImageStore(settings.data_dir))


def _project(settings: Settings, api_as: ClientFor, admin: User, folder: Path) -> int:
    pid = new_project(api_as(admin), "Small flowers")
    ctx = _context(settings)
    import_folder(ctx.sessions, settings, pid, admin.id, folder, labels_from_folders=True)
    return pid


def test_fine_tune_mode_end_to_end(
    settings: Settings, api_as: ClientFor, admin: User, db: Session, small_flowers: Path
) -> None:
    pid = _project(settings, api_as, admin, small_flowers)
    api = api_as(admin)
    rid = api.post(
        f"/api/v1/projects/{pid}/training-runs",
        json={"mode": "finetune", "params": {"epochs": 2, "batch_size": 6, "patience": 1}},
    ).json()["id"]
    ctx = _context(settings)
    run_training(ctx, rid)
    run = api.get(f"/api/v1/training-runs/{rid}").json()
    assert run["status"] == "succeeded", run["error"]
    assert run["device"] == "cpu"
    assert run["label_count"] == 18
    metrics = run["metrics"]
    assert 1 <= metrics["best_epoch"] <= 2
    assert next(h["epoch"] for h in metrics["history"]) == 1
    assert sum(map(sum, metrics["confusion_matrix"])) == sum(
        c["support"] for c in metrics["per_class"].values()
    )
    assert "held-out" in run["report"]["evaluation"]
    assert run["params"]["epochs"] == 2
    db.expire_all()
    predicted = db.scalar(select(func.count()).where(Prediction.run_id == rid))
    assert predicted == 18
    folder = service.run_dir(ctx.settings, rid)
    meta = json.loads((folder / "model.json").read_text())
    # Every float format is offered; int8 where it cleared its accuracy bar on these photos.
    offered = {f["file"] for f in meta["formats"].values() if f["offered"]}
    assert {"model.onnx", "model.pt", "model.pt2"} <= offered
    assert sorted(p.name for p in folder.iterdir()) == sorted({"model.json", *offered})


def test_a_cancel_stops_the_run_at_its_next_checkpoint(
    settings: Settings, api_as: ClientFor, admin: User, db: Session, small_flowers: Path
) -> None:
    pid = _project(settings, api_as, admin, small_flowers)
    rid = api_as(admin).post(f"/api/v1/projects/{pid}/training-runs", json={}).json()["id"]
    # The user presses Cancel just as a worker picks the run up.
    db.execute(
        TrainingRun.__table__.update().where(TrainingRun.id == rid).values(cancel_requested=True)
    )
    db.commit()
    run_training(_context(settings), rid)
    db.expire_all()
    run = db.get_one(TrainingRun, rid)
    assert run.status is RunStatus.cancelled
    assert run.error == "Cancelled by a user."
    assert db.scalar(select(func.count()).where(Prediction.run_id == rid)) == 0
