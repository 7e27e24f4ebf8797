"""Model downloads beside ONNX and TorchScript: int8 ONNX and torch.export (.pt2).

A real linear run (EfficientNet-Lite0's offline weights, a few flowers12 photos) is
trained in this process; its downloads are unzipped and run as a user would, on
flowers12 test photos the run never saw. The int8 model refused by its accuracy bar,
the formats that do not exist, and who may download are checked on the same route.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.config import Settings
from app.db import utcnow
from app.imports.folder_import import import_folder
from app.training.models import RunMode, RunStatus, TrainingRun
from app.training.service import run_dir
from tests.conftest import ClientFor, UserFactory
from tests.images.helpers import new_project
from tests.ml.test_export_files import Tiny
from tests.support.datasets import FLOWERS12
from tests.support.env import require
from tests.workers.test_training_inprocess import _context
from workers.ml.backbones import BACKBONES, DEFAULT_BACKBONE
from workers.ml.export import preprocessing_json
from workers.ml.images import load_for_model
from workers.ml.model_files import Labeled, write_model_files
from workers.training import run_training

SPECIES = ("daisy", "iris", "pansy")
SPEC = BACKBONES[DEFAULT_BACKBONE]


def _model(api: TestClient, rid: int, format: str) -> dict[str, bytes]:
    answer = api.get(f"/api/v1/training-runs/{rid}/model", params={"format": format})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert f"curator-run-{rid}-{format}.zip" in answer.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.content)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _photos(split: str, per_species: int) -> list[Path]:
    return [
        photo
        for species in SPECIES
        for photo in sorted((FLOWERS12 / split / species).glob("*.jpg"))[:per_species]
    ]


@pytest.fixture
def trained(
    settings: Settings, api_as: ClientFor, admin: User, tmp_path: Path
) -> tuple[TestClient, int]:
    require((FLOWERS12 / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS12}")
    folder = tmp_path / "small"
    for species in SPECIES:
        (folder / species).mkdir(parents=True)
    for photo in _photos("train", 8):
        shutil.copy(photo, folder / photo.parent.name / photo.name)
    api = api_as(admin)
    pid = new_project(api, "Three flowers")
    ctx = _context(settings)
    import_folder(ctx.sessions, settings, pid, admin.id, folder, labels_from_folders=True)
    rid = int(api.post(f"/api/v1/projects/{pid}/training-runs", json={}).json()["id"])
    run_training(ctx, rid)
    run = api.get(f"/api/v1/training-runs/{rid}").json()
    assert run["status"] == "succeeded", run["error"]
    return api, rid


def test_int8_and_pt2_downloads_run_like_the_float_model(
    trained: tuple[TestClient, int], browser_as: ClientFor, admin: User
) -> None:
    api, rid = trained
    pid = api.get(f"/api/v1/training-runs/{rid}").json()["project_id"]
    page = browser_as(admin).get(f"/projects/{pid}/runs/{rid}").text
    for format in ("onnx", "onnx-int8", "pt2", "torchscript"):
        assert f'href="/api/v1/training-runs/{rid}/model?format={format}"' in page
    assert "offered only when its accuracy on this run's labeled images is within 1 point" in page
    float_zip = _model(api, rid, "onnx")
    int8_zip = _model(api, rid, "onnx-int8")
    assert sorted(int8_zip) == ["model.json", "model_int8.onnx"]
    meta = json.loads(int8_zip["model.json"])
    assert meta == json.loads(float_zip["model.json"])
    assert meta["checked_on"] == "8 of the run's labeled images"
    int8 = meta["formats"]["onnx-int8"]
    assert int8["offered"] is True
    assert int8["calibration_images"] == 24  # all the run's photos: fewer than 64
    assert int8["float_accuracy"] - int8["int8_accuracy"] <= 0.01
    assert len(int8_zip["model_int8.onnx"]) <= len(float_zip["model.onnx"]) / 3

    as_float = ort.InferenceSession(float_zip["model.onnx"], providers=["CPUExecutionProvider"])
    as_int8 = ort.InferenceSession(int8_zip["model_int8.onnx"], providers=["CPUExecutionProvider"])
    shape = [(i.name, i.shape, i.type) for i in as_float.get_inputs()]
    assert shape == [(i.name, i.shape, i.type) for i in as_int8.get_inputs()]
    assert shape[0][0] == meta["input_name"]
    # Photos the run never saw, prepared the way model.json says.
    images = np.stack([load_for_model(p, BACKBONES[meta["backbone"]]) for p in _photos("test", 4)])
    probs_float = as_float.run(None, {meta["input_name"]: images})[0]
    probs_int8 = as_int8.run(None, {meta["input_name"]: images})[0]
    assert probs_int8.shape == (12, 3)
    agree = (probs_float.argmax(axis=1) == probs_int8.argmax(axis=1)).mean()
    assert agree >= 10 / 12, agree
    truth = np.repeat([meta["class_names"].index(s) for s in SPECIES], 4)
    assert (probs_int8.argmax(axis=1) == truth).mean() >= 0.75

    pt2_zip = _model(api, rid, "pt2")
    assert sorted(pt2_zip) == ["model.json", "model.pt2"]
    program = torch.export.load(io.BytesIO(pt2_zip["model.pt2"]))
    with torch.inference_mode():
        probs_pt2 = program.module()(torch.from_numpy(images)).numpy()
    np.testing.assert_allclose(probs_pt2, probs_float, atol=1e-4)

    assert sorted(_model(api, rid, "torchscript")) == ["model.json", "model.pt"]


def _finished_run(db: Session, pid: int) -> TrainingRun:
    run = TrainingRun(
        project_id=pid,
        mode=RunMode.linear,
        backbone=DEFAULT_BACKBONE,
        status=RunStatus.succeeded,
        phase="done",
        progress=1.0,
        classes=[[1, "a"], [2, "b"], [3, "c"]],
        metrics={"accuracy": 1.0, "macro_f1": 1.0, "labels": ["a", "b", "c"], "per_class": {}},
        finished_at=utcnow(),
    )
    db.add(run)
    db.commit()
    return run


def test_an_int8_model_below_the_bar_answers_409_with_the_reason(
    settings: Settings, api_as: ClientFor, browser_as: ClientFor, admin: User, db: Session
) -> None:
    require((FLOWERS12 / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS12}")
    api = api_as(admin)
    run = _finished_run(db, new_project(api, "Refused"))
    labeled = [Labeled(p, n // 4) for n, p in enumerate(_photos("train", 4))]
    meta = {"run_id": run.id, **preprocessing_json(SPEC, ["a", "b", "c"])}
    # The worker's own call, with a bar no int8 model clears (50 points better than float).
    write_model_files(Tiny(), run_dir(settings, run.id), SPEC, meta, labeled, max_drop=-0.5)

    refused = api.get(f"/api/v1/training-runs/{run.id}/model", params={"format": "onnx-int8"})
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert detail.startswith(f"Run {run.id} has no int8 ONNX model: int8 accuracy ")
    assert "on 12 of the run's labeled images" in detail
    assert "more than the -50 allowed" in detail
    assert _model(api, run.id, "onnx")["model.onnx"]  # the float model still downloads
    # The run page says it beside the other formats' links, with no int8 link to follow.
    page = browser_as(admin).get(f"/projects/{run.project_id}/runs/{run.id}").text
    assert "format=onnx-int8" not in page
    assert f"ONNX int8: not offered. {detail}" in page.replace("&#39;", "'")
    assert 'format=onnx"' in page


def test_a_run_exported_before_these_formats_says_so(
    settings: Settings, api_as: ClientFor, admin: User, db: Session
) -> None:
    api = api_as(admin)
    run = _finished_run(db, new_project(api, "Old"))
    folder = run_dir(settings, run.id)
    folder.mkdir(parents=True)
    for name in ("model.onnx", "model.pt"):
        (folder / name).write_bytes(b"weights")
    (folder / "model.json").write_text(json.dumps({"run_id": run.id, "class_names": ["a"]}))
    for format in ("onnx-int8", "pt2"):
        old = api.get(f"/api/v1/training-runs/{run.id}/model", params={"format": format})
        assert old.status_code == 409
        assert "trained before Curator made them. Train again" in old.json()["detail"]
    assert _model(api, run.id, "onnx")["model.onnx"] == b"weights"
    # A model.json that is not JSON (a disk full mid-write of an old version) says the same.
    (folder / "model.json").write_text("{not json")
    broken = api.get(f"/api/v1/training-runs/{run.id}/model", params={"format": "pt2"})
    assert broken.status_code == 409
    (folder / "model.json").unlink()
    missing = api.get(f"/api/v1/training-runs/{run.id}/model", params={"format": "onnx-int8"})
    assert missing.status_code == 409
    assert "not ready" in missing.json()["detail"]


@pytest.mark.parametrize(
    "format",
    ["", "int8", "ONNX-INT8", "onnx-int4", "onnx_int8", "../model.pt", "model.json", "x" * 5000],
)
def test_a_malformed_format_is_422(
    api_as: ClientFor, admin: User, db: Session, format: str
) -> None:
    api = api_as(admin)
    run = _finished_run(db, new_project(api, "Formats"))
    answer = api.get(f"/api/v1/training-runs/{run.id}/model", params={"format": format})
    assert answer.status_code == 422
    assert answer.json()["detail"]


def test_only_the_projects_managers_download_int8_and_pt2(
    settings: Settings,
    api_as: ClientFor,
    make_user: UserFactory,
    labeler: User,
    db: Session,
) -> None:
    mona, otto = make_user(Role.manager, "mona"), make_user(Role.manager, "otto")
    manager = api_as(mona)
    pid = new_project(manager, "Mona's")
    assert (
        manager.post(f"/api/v1/projects/{pid}/members", json={"username": "lena"}).status_code
        == 201
    )
    new_project(api_as(otto), "Otto's")  # a manager, of another project
    run = _finished_run(db, pid)
    folder = run_dir(settings, run.id)
    folder.mkdir(parents=True)
    for name in ("model_int8.onnx", "model.pt2", "model.json"):
        (folder / name).write_bytes(b"{}")
    for format in ("onnx-int8", "pt2"):
        url = f"/api/v1/training-runs/{run.id}/model?format={format}"
        assert api_as(labeler).get(url).status_code == 403, format
        outsider = api_as(otto).get(url)
        assert outsider.status_code == 404, format
        assert outsider.json()["detail"] == f"No training run with id {run.id}."
        assert manager.get(url).status_code == 200, format
