"""A real linear run with the SVM head and with the MLP head, through the worker's own
job (in this process, as tests/workers/test_training_inprocess.py runs it), on a few
flowers12 photos with EfficientNet-Lite0.

Each run must succeed, predict every image, and export a model whose ONNX file gives
the probabilities of the head's numpy ``predict_proba`` on the same images' features.
The head is refitted here from the run's own embeddings and seed (heads are
deterministic), and must reproduce the predictions the run stored: so it is the
run's head that the export is compared with.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.config import Settings
from app.images.models import Image
from app.imports.folder_import import import_folder
from app.projects.models import Project
from app.training import dataset, embeddings, service
from app.training.models import Prediction
from tests.conftest import ClientFor
from tests.images.helpers import new_project
from tests.support.datasets import FLOWERS12
from tests.support.env import require
from tests.workers.test_training_inprocess import _context
from workers.ml import heads
from workers.ml.backbones import get_spec, load_backbone
from workers.ml.images import load_for_model
from workers.ml.shards import read_rows
from workers.training import run_training

SPECIES = ("daisy", "iris", "pansy")


@pytest.fixture
def flowers(tmp_path: Path) -> Path:
    """Three species, six photos each, copied to the test's temp dir."""
    require((FLOWERS12 / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS12}")
    root = tmp_path / "small"
    for name in SPECIES:
        (root / name).mkdir(parents=True)
        for photo in sorted((FLOWERS12 / "train" / name).glob("*.jpg"))[:6]:
            shutil.copy(photo, root / name / photo.name)
    return root


@pytest.mark.parametrize("head", ["svm", "mlp"])
def test_a_linear_run_with_the_head_predicts_and_exports_that_head(
    head: str, settings: Settings, api_as: ClientFor, admin: User, db: Session, flowers: Path
) -> None:
    api = api_as(admin)
    pid = new_project(api, f"Flowers {head}")
    ctx = _context(settings)
    import_folder(ctx.sessions, settings, pid, admin.id, flowers, labels_from_folders=True)
    answer = api.post(
        f"/api/v1/projects/{pid}/training-runs", json={"mode": "linear", "head": head}
    )
    assert answer.status_code == 202, answer.text
    rid = answer.json()["id"]
    run_training(ctx, rid)

    run = api.get(f"/api/v1/training-runs/{rid}").json()
    assert run["status"] == "succeeded", run["error"]
    assert run["head"] == head
    assert run["label_count"] == 18
    assert 0.0 <= run["metrics"]["accuracy"] <= 1.0
    assert ("C" in run["params"]) is (head == "svm")
    db.expire_all()
    stored = {
        p.image_id: np.frombuffer(p.probabilities, dtype="<f2").astype(np.float32)
        for p in db.scalars(select(Prediction).where(Prediction.run_id == rid))
    }
    assert len(stored) == 18

    # The run's head, fitted again from its embeddings and seed.
    project = db.get_one(Project, pid)
    data = dataset.build(db, project, None)
    found = embeddings.locations(db, data.image_ids, run["backbone"])
    folder = ctx.embedding_dir(run["backbone"])
    x = read_rows(folder, [found[i] for i in data.image_ids])
    model = heads.fit_head(head, x, np.array(data.labels), seed=rid, device="cpu")
    class_ids = [cid for cid, _ in run["classes"]]
    order = [int(np.searchsorted(model.classes, cid)) for cid in class_ids]
    ids, where = embeddings.project_locations(db, pid, run["backbone"])
    refitted = heads.predict_proba(model, read_rows(folder, where))[:, order]
    for image_id, probs in zip(ids, refitted, strict=True):
        np.testing.assert_allclose(stored[image_id], probs, atol=2e-3)  # stored as float16

    # The exported model against the head's numpy probabilities on the same features.
    model_dir = service.run_dir(settings, rid)
    meta = json.loads((model_dir / "model.json").read_text())
    assert meta["category_ids"] == [int(c) for c in model.classes]
    spec = get_spec(meta["backbone"])
    shas = db.execute(select(Image.id, Image.sha256).where(Image.project_id == pid)).all()
    pixels = np.stack([load_for_model(ctx.store.original_path(sha), spec) for _, sha in shas])
    session = ort.InferenceSession(
        str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    (exported,) = session.run(None, {session.get_inputs()[0].name: pixels.astype(np.float32)})
    backbone = load_backbone(meta["backbone"], torch.device("cpu"))
    with torch.inference_mode():
        features = backbone(torch.from_numpy(pixels.astype(np.float32))).numpy()
    np.testing.assert_allclose(exported, heads.predict_proba(model, features), atol=1e-4)
    # And it agrees with what the product stored, up to the stored float16 embeddings.
    by_id = {image_id: n for n, (image_id, _) in enumerate(shas)}
    agree = [int(np.argmax(exported[by_id[i]])) == order[int(np.argmax(stored[i]))] for i in stored]
    assert sum(agree) >= len(agree) - 1
