"""Training on a real `curator worker` with real photos and the real pretrained backbone.

flowers12's train split is imported labeled from its folders, its test split unlabeled;
the species go under their botanical families. Then a linear run at each level, and the
test accuracy is computed from the predictions stored for the test images against their
folder names: what a user would check.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.images.models import Image
from app.imports.folder_import import import_folder
from app.main import create_app
from app.training.models import Prediction, QueueRank, RunStatus, Scoring, TrainingRun
from tests.conftest import PASSWORD
from tests.images.helpers import new_project
from tests.support.datasets import FLOWERS12
from tests.support.env import require
from tests.support.processes import curator_cmd, curator_env, running, wait_for

pytestmark = pytest.mark.slow
FLOWERS = FLOWERS12
FAMILIES = {
    "Asteraceae": ["daisy", "dandelion", "sunflower", "colts-foot"],
    "Ranunculaceae": ["buttercup", "windflower"],
    "Liliaceae": ["fritillary", "tigerlily"],
    "Asparagaceae": ["bluebell", "lily-valley"],
    "Iridaceae": ["iris"],
    "Violaceae": ["pansy"],
}
FAMILY_OF = {species: family for family, members in FAMILIES.items() for species in members}


def _client(settings: Settings, user: User) -> TestClient:
    client = TestClient(create_app(settings))
    token = client.post(
        "/api/v1/auth/token", data={"username": user.username, "password": PASSWORD}
    )
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return client


def _wait(api: TestClient, rid: int, log: Path, timeout: float = 600) -> dict[str, object]:
    def finished() -> bool:
        return api.get(f"/api/v1/training-runs/{rid}").json()["status"] not in {
            "queued",
            "running",
        }

    try:
        wait_for(finished, timeout=timeout, what=f"training run {rid}")
    except TimeoutError as exc:
        run = api.get(f"/api/v1/training-runs/{rid}").json()
        raise AssertionError(f"{exc}\n{run}\n{log.read_text()[-5000:]}") from None
    body: dict[str, object] = api.get(f"/api/v1/training-runs/{rid}").json()
    return body


def _test_accuracy(db: Session, rid: int, truth: dict[str, str], names: dict[int, str]) -> float:
    """Accuracy on the test images: stored prediction against the folder's class."""
    rows = db.execute(
        select(Image.filename, Prediction.category_id)
        .join(Prediction, Prediction.image_id == Image.id)
        .where(Prediction.run_id == rid)
    ).all()
    tested = [(truth[f], names[c]) for f, c in rows if f in truth]
    assert len(tested) == len(truth)  # every test image has a prediction
    return sum(t == p for t, p in tested) / len(tested)


def test_flowers_linear_probe_at_species_and_family_level(
    settings: Settings, admin: User, db: Session, tmp_path: Path
) -> None:
    require((FLOWERS / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS}")
    api = _client(settings, admin)
    pid = new_project(api, "Flowers")
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    import_folder(sessions, settings, pid, admin.id, FLOWERS / "train", labels_from_folders=True)
    _batch, summary = import_folder(sessions, settings, pid, admin.id, FLOWERS / "test")
    truth = {name: name.split("/")[0] for _, name in summary.imported}
    assert len(truth) >= 230  # 240, less any photo already in train

    cats = {c["name"]: c["id"] for c in api.get(f"/api/v1/projects/{pid}/categories").json()}
    for family, members in FAMILIES.items():
        fid = api.post(f"/api/v1/projects/{pid}/categories", json={"name": family}).json()["id"]
        for species in members:
            moved = api.patch(f"/api/v1/categories/{cats[species]}", json={"parent_id": fid})
            assert moved.status_code == 200, moved.text
    cats = {c["name"]: c["id"] for c in api.get(f"/api/v1/projects/{pid}/categories").json()}
    names = {cid: name for name, cid in cats.items()}

    url = f"/api/v1/projects/{pid}/training-runs"
    # A run that cannot get its weights offline fails readably; the worker goes on.
    broken = api.post(url, json={"mode": "linear", "backbone": "resnet50"}).json()["id"]
    species = api.post(url, json={"mode": "linear", "level": 2}).json()["id"]
    families = api.post(url, json={"mode": "linear", "level": 1}).json()["id"]
    log = tmp_path / "worker.log"
    env = curator_env(
        settings.data_dir,
        CURATOR_ML_DEVICE="cpu",
        CURATOR_ALLOW_WEIGHT_DOWNLOAD="false",
        TORCH_HOME=str(tmp_path / "torch-home"),
        HF_HOME=str(tmp_path / "hf-home"),
    )
    with running(curator_cmd("worker", "--queues", "ml", "--concurrency", "1"), env, log):
        failed = _wait(api, broken, log)
        by_species = _wait(api, species, log)
        by_family = _wait(api, families, log)

    assert failed["status"] == "failed"
    assert "resnet50" in str(failed["error"])
    assert "download" in str(failed["error"])
    for run in (by_species, by_family):
        assert run["status"] == "succeeded", run["error"]
        assert (run["device"], run["progress"], run["phase"]) == ("cpu", 1.0, "done")
        assert run["label_count"] == 719  # 720 photos, one byte-identical pair
    metrics = by_species["metrics"]
    assert isinstance(metrics, dict)
    assert len(metrics["confusion_matrix"]) == 12
    assert metrics["accuracy"] > 0.85  # cross-validated on train
    assert set(metrics["per_class"]) == {f"{FAMILY_OF[s]}/{s}" for s in FAMILY_OF}

    db.expire_all()
    species_acc = _test_accuracy(db, int(species), truth, names)
    family_truth = {f: FAMILY_OF[s] for f, s in truth.items()}
    family_acc = _test_accuracy(db, int(families), family_truth, names)
    print(f"flowers12 test accuracy: species {species_acc:.4f}, families {family_acc:.4f}")
    assert species_acc >= 0.93
    assert family_acc >= 0.95

    # The queue was ranked from the newest model, over the unlabeled test photos.
    scoring = db.scalars(select(Scoring).where(Scoring.project_id == pid)).one()
    assert (scoring.run_id, scoring.pool_size) == (families, len(truth))
    ranked = db.scalars(select(QueueRank.image_id).where(QueueRank.project_id == pid)).all()
    assert len(ranked) == len(truth)

    # The model version downloads as ONNX with its classes and preprocessing.
    # The files are written just after the run succeeds.
    model_url = f"/api/v1/training-runs/{families}/model"
    wait_for(
        lambda: api.get(model_url, params={"format": "onnx"}).status_code == 200,
        timeout=120,
        what="the exported model",
    )
    download = api.get(model_url, params={"format": "onnx"})
    with zipfile.ZipFile(io.BytesIO(download.content)) as zf:
        assert sorted(zf.namelist()) == ["model.json", "model.onnx"]
        meta = json.loads(zf.read("model.json"))
    # Named in the order the model outputs them: by category id, each its own name.
    assert meta["class_names"] == [names[c] for c in meta["category_ids"]]
    assert sorted(meta["class_names"]) == sorted(FAMILIES)
    torchscript = api.get(
        f"/api/v1/training-runs/{families}/model", params={"format": "torchscript"}
    )
    assert torchscript.status_code == 200


def test_a_worker_killed_mid_run_is_failed_by_another_worker_s_reaper(
    settings: Settings, admin: User, db: Session, tmp_path: Path
) -> None:
    require((FLOWERS / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS}")
    api = _client(settings, admin)
    pid = new_project(api, "Killed")
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    import_folder(sessions, settings, pid, admin.id, FLOWERS / "train", labels_from_folders=True)
    rid = api.post(
        f"/api/v1/projects/{pid}/training-runs", json={"mode": "finetune", "params": {"epochs": 50}}
    ).json()["id"]
    stale_after = 5
    env = curator_env(
        settings.data_dir,
        CURATOR_ML_DEVICE="cpu",
        CURATOR_JOB_HEARTBEAT_INTERVAL="1",
        CURATOR_JOB_STALE_AFTER=str(stale_after),
        CURATOR_WORKER_TICK="1",
    )

    def status() -> RunStatus:
        db.expire_all()  # read the database, not this session's copy: no web request
        return db.get_one(TrainingRun, rid).status

    log = tmp_path / "worker.log"
    with running(curator_cmd("worker", "--queues", "ml", "--concurrency", "1"), env, log) as proc:
        wait_for(lambda: status() is RunStatus.running, timeout=120, what="the run to start")
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and its children, no goodbye
        proc.wait()
    killed = time.monotonic()
    assert status() is RunStatus.running
    # Another worker (here: the same one, restarted) notices on its timer.
    with running(curator_cmd("worker", "--queues", "ml"), env, tmp_path / "second.log"):
        wait_for(
            lambda: status() is RunStatus.failed,
            timeout=60 + 60,  # 60 s at most after the last heartbeat, plus a start-up
            interval=0.5,
            what="the reaper of the other worker",
        )
    assert time.monotonic() - killed < 60 + 60
    run = db.get_one(TrainingRun, rid)
    assert run.error is not None
    assert "the worker stopped responding" in run.error.lower()
