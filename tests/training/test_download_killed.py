"""A worker killed with -9 while it writes a run's model files offers none of them:
the files are written in a staging folder that is renamed into place only when all of
them and model.json are there."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from sqlalchemy.orm import Session

from app.auth.models import User
from app.config import Settings
from app.imports.folder_import import import_folder
from app.training.models import RunStatus, TrainingRun
from app.training.service import run_dir
from tests.conftest import ClientFor
from tests.images.helpers import new_project
from tests.support.datasets import FLOWERS12
from tests.support.env import require
from tests.support.processes import REPO, curator_env, wait_for
from tests.workers.test_training_inprocess import _context

SPECIES = ("daisy", "iris", "pansy")
FORMATS = ("onnx", "onnx-int8", "pt2", "torchscript")


def test_a_worker_killed_mid_export_offers_no_half_written_model(
    settings: Settings, api_as: ClientFor, admin: User, db: Session, tmp_path: Path
) -> None:
    require((FLOWERS12 / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS12}")
    folder = tmp_path / "small"
    for species in SPECIES:
        (folder / species).mkdir(parents=True)
        for photo in sorted((FLOWERS12 / "train" / species).glob("*.jpg"))[:6]:
            shutil.copy(photo, folder / species / photo.name)
    api = api_as(admin)
    pid = new_project(api, "Killed in export")
    import_folder(_context(settings).sessions, settings, pid, admin.id, folder,
                  labels_from_folders=True)  # fmt: skip
    rid = int(api.post(f"/api/v1/projects/{pid}/training-runs", json={}).json()["id"])
    ready = tmp_path / "written"
    env = curator_env(settings.data_dir, CURATOR_ML_DEVICE="cpu",
                      CURATOR_ALLOW_WEIGHT_DOWNLOAD="false")  # fmt: skip
    log = tmp_path / "child.log"
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.training.stopped_in_export", str(rid), str(ready)],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for(
                lambda: ready.exists() or child.poll() is not None,
                timeout=300,
                what="the child to write its int8 model",
            )
            assert ready.exists(), log.read_text()[-3000:]
        finally:
            child.kill()  # SIGKILL: no cleanup, no goodbye
            child.wait()
    # Killed with the float files and the int8 one written, model.json not yet.
    staged = ready.read_text().split()
    assert {"model.onnx", "model.pt", "model.pt2", "model_int8.onnx"} <= set(staged)
    assert "model.json" not in staged

    db.expire_all()
    assert db.get_one(TrainingRun, rid).status is RunStatus.succeeded  # exports come after
    assert not run_dir(settings, rid).exists()
    for format in FORMATS:
        answer = api.get(f"/api/v1/training-runs/{rid}/model", params={"format": format})
        assert answer.status_code == 409, format
        assert "not ready" in answer.json()["detail"]
    # The half-written set is still aside, where no download looks.
    assert (run_dir(settings, rid).with_name(f".{rid}.partial") / "model.onnx").exists()
