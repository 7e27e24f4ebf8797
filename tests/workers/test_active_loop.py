"""The active-learning loop on a real worker: cold start, label, auto-train, uncertain next.

A folder of real photos is imported without labels; the worker embeds it and ranks a
cold-start batch; an oracle labels that batch through the API from the folder names;
the 12th label queues a run; then the queue serves the model's most uncertain images.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
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
from app.training.models import Prediction, Scoring, TrainingRun
from tests.conftest import PASSWORD
from tests.images.helpers import new_project
from tests.support.datasets import FLOWERS12
from tests.support.env import require
from tests.support.processes import curator_cmd, curator_env, running, wait_for

pytestmark = pytest.mark.slow
FLOWERS = FLOWERS12
SPECIES = ("daisy", "iris", "pansy", "sunflower")
BATCH = 12


def _client(settings: Settings, user: User) -> TestClient:
    client = TestClient(create_app(settings))
    token = client.post(
        "/api/v1/auth/token", data={"username": user.username, "password": PASSWORD}
    )
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return client


def _margin(blob: bytes) -> float:
    top = np.sort(np.frombuffer(blob, dtype="<f2").astype(np.float32))[::-1]
    return float(top[0] - top[1])


def test_cold_start_then_the_model_most_uncertain(
    settings: Settings, admin: User, db: Session, tmp_path: Path
) -> None:
    require((FLOWERS / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS}")
    folder = tmp_path / "unlabeled"
    for species in SPECIES:  # a copy in the test's temp dir, never in the repo
        (folder / species).mkdir(parents=True)
        for photo in sorted((FLOWERS / "train" / species).glob("*.jpg"))[:20]:
            shutil.copy(photo, folder / species / photo.name)
    api = _client(settings, admin)
    pid = new_project(api, "Loop")
    api.patch(f"/api/v1/projects/{pid}", json={"auto_train_every": BATCH})
    cats = {
        s: api.post(f"/api/v1/projects/{pid}/categories", json={"name": s}).json()["id"]
        for s in SPECIES
    }
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    app_celery = create_app(settings).state.celery
    import_folder(sessions, settings, pid, admin.id, folder, celery=app_celery)
    species_of = {i.id: i.filename.split("/")[0] for i in db.scalars(select(Image))}
    assert len(species_of) == 80

    log = tmp_path / "worker.log"
    env = curator_env(settings.data_dir, CURATOR_ML_DEVICE="cpu")
    with running(curator_cmd("worker", "--queues", "ml", "--concurrency", "1"), env, log):

        def scored(run: bool) -> Scoring | None:
            db.expire_all()
            row = db.get(Scoring, (pid, "default"))
            return row if row is not None and (row.run_id is not None) == run else None

        try:
            wait_for(lambda: scored(run=False), timeout=300, what="the cold-start ranking")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{log.read_text()[-4000:]}") from None
        cold = scored(run=False)
        assert cold is not None
        assert (cold.concrete, cold.pool_size) == ("kmeans", 80)

        # The oracle labels the cold-start batch; it covers the species at once.
        served: list[int] = []
        for _ in range(BATCH):
            item = api.get(f"/api/v1/projects/{pid}/queue/next").json()
            assert item["ranking"] == "default"
            served.append(item["image_id"])
            answer = {"category_id": cats[species_of[item["image_id"]]]}
            assert api.post(
                f"/api/v1/images/{item['image_id']}/annotations", json=answer
            ).is_success
        assert len({species_of[i] for i in served}) >= 3

        try:
            wait_for(lambda: scored(run=True), timeout=300, what="the model's ranking")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{log.read_text()[-4000:]}") from None

    warm = scored(run=True)
    assert warm is not None
    run = db.get_one(TrainingRun, warm.run_id)
    assert (run.trigger, run.label_count) == ("auto", BATCH)
    assert warm.concrete == "cluster_margin"
    assert warm.pool_size == 80 - BATCH
    margins = {
        image_id: _margin(blob)
        for image_id, blob in db.execute(
            select(Prediction.image_id, Prediction.probabilities).where(Prediction.run_id == run.id)
        )
        if image_id not in served
    }
    cutoff = float(np.quantile(list(margins.values()), 0.3))
    nexts = []
    for _ in range(6):
        exclude = ",".join(map(str, nexts)) or None
        item = api.get(f"/api/v1/projects/{pid}/queue/next", params={"exclude": exclude}).json()
        nexts.append(item["image_id"])
        assert item["suggestion"] is not None
    # The next images are among the model's most uncertain (smallest top-2 margin); the
    # batch is spread over clusters, so not necessarily the 6 smallest in order.
    assert all(margins[i] <= cutoff for i in nexts), [round(margins[i], 3) for i in nexts]
