"""The worker's side of by-name backbones: it publishes what it can load, and a run
with a model whose weights cannot be had fails clearly instead of hanging or guessing."""

from __future__ import annotations

import shutil
from pathlib import Path

import huggingface_hub
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.images.storage import ImageStore
from app.imports.folder_import import import_folder
from app.projects.backbone_catalog import BackboneCatalogEntry, publish
from tests.conftest import ClientFor
from tests.images.helpers import new_project
from tests.support.datasets import FLOWERS12
from tests.support.env import require
from workers.backbone_catalog import publish_catalog
from workers.context import WorkerContext
from workers.ml.weights import WeightsUnavailable
from workers.training import run_training


def _catalog(db: Session) -> dict[str, BackboneCatalogEntry]:
    db.expire_all()
    return {e.name: e for e in db.scalars(select(BackboneCatalogEntry))}


def test_the_worker_publishes_the_names_it_can_load_once(settings: Settings, db: Session) -> None:
    assert publish_catalog(settings) > 1000  # timm alone has well over a thousand
    rows = _catalog(db)
    assert rows["tv.resnet18"].source == "torchvision"
    assert rows["tv.resnet18"].input_size == 224
    assert rows["tv.resnet18"].download_mb == pytest.approx(44.661)
    assert rows["timm.vit_small_patch14_dinov2.lvd142m"].input_size == 518
    assert rows["timm.resnet18.a1_in1k"].download_mb is None  # not known offline
    assert all(len(name) <= 64 for name in rows)
    assert publish_catalog(settings) == 0  # the usual start: nothing changed, nothing written


def test_a_name_no_longer_offered_is_withdrawn(db: Session) -> None:
    publish(db, [("tv.a", "torchvision", None, 224, 1.0), ("tv.b", "torchvision", None, 224, 2.0)])
    assert publish(db, [("tv.b", "torchvision", None, 224, 2.5)]) == 2
    db.commit()
    rows = _catalog(db)
    assert set(rows) == {"tv.b"}
    assert rows["tv.b"].download_mb == 2.5


def test_a_run_whose_weights_cannot_be_fetched_fails_clearly(
    settings: Settings,
    api_as: ClientFor,
    admin: User,
    db: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require((FLOWERS12 / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS12}")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    folder = tmp_path / "two"
    for species in ("daisy", "iris"):
        (folder / species).mkdir(parents=True)
        for photo in sorted((FLOWERS12 / "train" / species).glob("*.jpg"))[:2]:
            shutil.copy(photo, folder / species / photo.name)
    settings = settings.model_copy(update={"ml_device": "cpu", "allow_weight_download": False})
    ctx = WorkerContext(
        settings,
        make_sessionmaker(make_engine(settings.resolved_database_url)),
        ImageStore(settings.data_dir),
    )
    api = api_as(admin)
    pid = new_project(api, "Two flowers")
    import_folder(ctx.sessions, settings, pid, admin.id, folder, labels_from_folders=True)
    publish(db, [("timm.resnet18.a1_in1k", "timm", None, 224, None)])
    db.commit()
    created = api.post(
        f"/api/v1/projects/{pid}/training-runs",
        json={"mode": "linear", "backbone": "timm.resnet18.a1_in1k", "params": {"folds": 2}},
    )
    assert created.status_code == 202, created.text
    rid = created.json()["id"]
    with pytest.raises(WeightsUnavailable):
        run_training(ctx, rid)
    run = api.get(f"/api/v1/training-runs/{rid}").json()
    assert run["status"] == "failed"
    assert "weights cannot be fetched" in run["error"]
    assert "timm.resnet18.a1_in1k" in run["error"]
    assert "CURATOR_ALLOW_WEIGHT_DOWNLOAD" in run["error"]
