"""The downloaded model names its output columns right, whatever order the categories
were made in.

The run's classes are sorted by name, but the exported module's columns follow the
estimator (category ids): with categories made in reverse name order the two differ,
and model.json once named the columns in the run's order instead of the model's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.config import Settings
from app.images.models import Image
from app.imports.folder_import import import_folder
from app.training import service
from app.training.models import Prediction
from tests.conftest import ClientFor
from tests.images.helpers import new_project
from tests.support.datasets import FLOWERS12
from tests.support.env import require
from tests.workers.test_training_inprocess import _context
from workers.ml.backbones import BACKBONES
from workers.ml.images import load_for_model
from workers.training import run_training

SPECIES = ("daisy", "iris", "pansy")


def test_model_json_names_the_columns_the_model_outputs(
    settings: Settings, api_as: ClientFor, admin: User, db: Session, tmp_path: Path
) -> None:
    require((FLOWERS12 / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS12}")
    folder = tmp_path / "small"
    for species in SPECIES:
        (folder / species).mkdir(parents=True)
        for photo in sorted((FLOWERS12 / "train" / species).glob("*.jpg"))[:6]:
            shutil.copy(photo, folder / species / photo.name)
    api = api_as(admin)
    pid = new_project(api, "Reversed")
    made = {}
    for name in reversed(SPECIES):  # ids in reverse name order: pansy < iris < daisy
        answer = api.post(f"/api/v1/projects/{pid}/categories", json={"name": name})
        assert answer.status_code == 201, answer.text
        made[name] = answer.json()["id"]
    assert sorted(made, key=made.__getitem__) != sorted(made)
    ctx = _context(settings)
    import_folder(ctx.sessions, settings, pid, admin.id, folder, labels_from_folders=True)
    rid = api.post(f"/api/v1/projects/{pid}/training-runs", json={"mode": "linear"}).json()["id"]
    run_training(ctx, rid)
    assert api.get(f"/api/v1/training-runs/{rid}").json()["status"] == "succeeded"

    model_dir = service.run_dir(settings, rid)
    meta = json.loads((model_dir / "model.json").read_text())
    by_id = {cid: name for name, cid in made.items()}
    assert meta["class_names"] == [by_id[c] for c in meta["category_ids"]]
    session = ort.InferenceSession(str(model_dir / "model.onnx"))
    spec = BACKBONES[meta["backbone"]]
    stored = dict(
        db.execute(
            select(Image.id, Prediction.category_id)
            .join(Prediction, Prediction.image_id == Image.id)
            .where(Prediction.run_id == rid)
        ).all()
    )
    images = db.execute(select(Image.id, Image.sha256).where(Image.project_id == pid)).all()
    assert len(images) == 18
    for image_id, sha in images[::4]:
        pixels = load_for_model(ctx.store.original_path(sha), spec)[None].astype(np.float32)
        (probabilities,) = session.run(None, {session.get_inputs()[0].name: pixels})
        column = int(np.argmax(probabilities[0]))
        # The downloaded model, read by its model.json, says what the product says.
        assert meta["class_names"][column] == by_id[stored[image_id]]
