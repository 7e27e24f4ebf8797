"""Real runs in this process (no Celery) on a few flowers12 photos: the folds a linear
run used agree with its page, a test image is never among a run's training samples,
and the test scores are stored apart; a fine-tuning run records training accuracy per
epoch, its augmentation, and scores the test split with the fine-tuned model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.config import Settings
from app.images.models import Image, ImageStatus
from app.projects.models import Project
from app.training import dataset
from app.training.models import TrainingSample
from tests.conftest import ClientFor
from tests.support.datasets import FLOWERS12
from tests.support.env import require
from tests.workers.test_training_inprocess import _context, _project
from workers.training import run_training

# Daisy has 3 photos: the smallest class caps 5 asked folds at 3.
PHOTOS = {"daisy": 3, "iris": 5, "pansy": 5}


@pytest.fixture
def flowers(tmp_path: Path) -> Path:
    require((FLOWERS12 / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS12}")
    root = tmp_path / "few"
    for species, count in PHOTOS.items():
        (root / species).mkdir(parents=True)
        for photo in sorted((FLOWERS12 / "train" / species).glob("*.jpg"))[:count]:
            shutil.copy(photo, root / species / photo.name)
    return root


def _train(settings: Settings, api: TestClient, pid: int, body: dict[str, object]) -> dict:  # type: ignore[type-arg]
    resp = api.post(f"/api/v1/projects/{pid}/training-runs", json=body)
    assert resp.status_code == 202, resp.text
    rid = int(resp.json()["id"])
    run_training(_context(settings), rid)
    run: dict = api.get(f"/api/v1/training-runs/{rid}").json()  # type: ignore[type-arg]
    assert run["status"] == "succeeded", run["error"]
    return run


def _sampled(db: Session, rid: int) -> set[int]:
    db.expire_all()
    return set(db.scalars(select(TrainingSample.image_id).where(TrainingSample.run_id == rid)))


def _test_images(db: Session, pid: int, share: float) -> set[int]:
    rows = db.execute(
        select(Image.id, Image.sha256).where(
            Image.project_id == pid, Image.status == ImageStatus.labeled
        )
    ).all()
    return {i for i, sha in rows if dataset.in_test_split(pid, sha, share)}


def test_a_linear_run_s_folds_agree_and_its_test_images_are_never_trained_on(
    settings: Settings,
    api_as: ClientFor,
    admin: User,
    db: Session,
    flowers: Path,
    browser_as: ClientFor,
) -> None:
    pid = _project(settings, api_as, admin, flowers)
    api = api_as(admin)
    plain = _train(settings, api, pid, {"mode": "linear", "params": {"folds": 5}})
    assert plain["params"]["folds"] == 5
    assert plain["report"]["folds_used"] == 3
    assert plain["report"]["smallest_class"] == 3
    assert plain["report"]["evaluation"] == "3-fold cross-validation"
    assert "test" not in plain["metrics"]
    html = browser_as(admin).get(f"/projects/{pid}/runs/{plain['id']}").text
    assert "<dt>Folds</dt><dd>5 asked, 3 used: the smallest class has 3 labels</dd>" in html
    assert "Evaluated by 3-fold cross-validation (5 folds asked, 3 used" in html

    share = 0.3
    assert api.patch(f"/api/v1/projects/{pid}", json={"test_share": share}).status_code == 200
    tested = _test_images(db, pid, share)
    assert tested, "these photos should put at least one image in a 30% test split"
    run = _train(settings, api, pid, {"mode": "linear"})
    sampled = _sampled(db, run["id"])
    assert sampled, "the run wrote no training samples"
    assert not sampled & tested  # no test image was trained (or cross-validated) on
    # The rest all trained, but for a class the split left too few to learn from.
    data = dataset.build(db, db.get_one(Project, pid), None)
    assert sampled == set(data.image_ids)
    assert run["label_count"] == len(sampled)
    small = sum(run["report"]["small_classes"].values())
    assert len(sampled) + small + len(tested) == sum(PHOTOS.values())
    assert set(data.test_image_ids) <= tested
    test = run["metrics"]["test"]
    assert test["count"] == len(data.test_image_ids) > 0
    assert test["share"] == share
    assert 0.0 <= test["accuracy"] <= 1.0
    assert 0.0 <= test["macro_f1"] <= 1.0
    assert run["report"]["test_images"] == test["count"]
    html = browser_as(admin).get(f"/projects/{pid}/runs/{run['id']}").text
    assert "Test split: images no run trained or tuned on" in html
    assert f"<dt>Test images</dt><dd>{test['count']}</dd>" in html


def test_a_fine_tuning_run_records_its_epochs_augmentation_and_test_scores(
    settings: Settings, api_as: ClientFor, admin: User, db: Session, flowers: Path
) -> None:
    pid = _project(settings, api_as, admin, flowers)
    api = api_as(admin)
    share = 0.3
    assert api.patch(f"/api/v1/projects/{pid}", json={"test_share": share}).status_code == 200
    tested = _test_images(db, pid, share)
    body = {"mode": "finetune", "params": {"epochs": 2, "batch_size": 4, "patience": 2}}
    run = _train(settings, api, pid, body)
    history = run["metrics"]["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    for epoch in history:
        assert 0.0 <= epoch["train_accuracy"] <= 1.0
        assert epoch["train_loss"] > 0
    assert run["metrics"]["best_epoch"] in (1, 2)
    assert "random crop" in run["report"]["augmentation"]
    assert "flip" in run["report"]["augmentation"]
    assert not _sampled(db, run["id"]) & tested
    data = dataset.build(db, db.get_one(Project, pid), None)
    assert run["metrics"]["test"]["count"] == len(data.test_image_ids) > 0
