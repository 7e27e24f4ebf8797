"""A real linear run (in this process, real Lite0 embeddings) on flowers12 photos and a
few generated odd pictures: the run's insights phase scores every image, and the odd
ones come first and are flagged."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.images.models import Image
from app.images.storage import ImageStore
from app.imports.folder_import import import_folder
from app.insights.models import OutlierScore
from app.insights.outliers import count_flagged
from app.projects.models import Project
from app.training import dataset
from app.training.models import RunStatus, TrainingRun
from tests.conftest import ClientFor
from tests.images.helpers import new_project
from tests.support import odd_pictures
from tests.support.datasets import FLOWERS12
from tests.support.env import require
from tests.support.processes import REPO, curator_env, wait_for
from tests.training.prediction_rows import reject
from workers.context import WorkerContext
from workers.outliers import score_run
from workers.training import run_training

pytestmark = pytest.mark.slow
SPECIES = ("daisy", "iris", "pansy")
ODD = {"flat": 3, "noise": 3, "text": 2}


def _copy(target: Path, split: str, count: int) -> Path:
    for name in SPECIES:
        (target / name).mkdir(parents=True)
        for photo in sorted((FLOWERS12 / split / name).glob("*.jpg"))[:count]:
            shutil.copy(photo, target / name / photo.name)
    return target


def _context(settings: Settings) -> WorkerContext:
    settings = settings.model_copy(update={"ml_device": "cpu", "allow_weight_download": False})
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    return WorkerContext(settings, sessions, ImageStore(settings.data_dir))


class World:
    """The project: 3 species x 8 labeled photos, 3 x 3 unlabeled ones (one rejected)
    and 8 generated odd pictures (flat colours, noise, text), unlabeled."""

    def __init__(self, settings: Settings, api: TestClient, admin: User, db: Session, tmp: Path):
        self.api = api
        self.pid = new_project(api, "Flowers and odd pictures")
        self.ctx = _context(settings)
        labeled = _copy(tmp / "labeled", "train", 8)
        unlabeled = _copy(tmp / "unlabeled", "test", 3)
        odd_folder = tmp / "odd"
        for kind, count in ODD.items():
            odd_pictures.write(odd_folder, kind, count, seed=5)
        sessions = self.ctx.sessions
        import_folder(sessions, settings, self.pid, admin.id, labeled, labels_from_folders=True)
        import_folder(sessions, settings, self.pid, admin.id, unlabeled)
        import_folder(sessions, settings, self.pid, admin.id, odd_folder)
        rows = db.execute(
            select(Image.id, Image.filename, Image.status).where(Image.project_id == self.pid)
        ).all()
        self.names = {i: name for i, name, _ in rows}
        assert len(self.names) == 24 + 9 + 8
        self.odd_ids = {i for i, name in self.names.items() if name.endswith(".png")}
        self.flower_ids = {i for i, name in self.names.items() if name.endswith(".jpg")}
        self.unlabeled_flowers = sorted(
            i for i, _, status in rows if status.value == "unlabeled" and i in self.flower_ids
        )
        assert len(self.unlabeled_flowers) == 9
        reject(api, self.unlabeled_flowers[0])  # rejected pictures are scored too

    def start_run(self) -> int:
        resp = self.api.post(f"/api/v1/projects/{self.pid}/training-runs", json={"mode": "linear"})
        assert resp.status_code == 202, resp.text
        return int(resp.json()["id"])

    def outliers(self) -> dict[str, Any]:
        resp = self.api.get(f"/api/v1/projects/{self.pid}/outliers", params={"limit": 1000})
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body


def test_a_run_scores_every_picture_and_the_odd_ones_come_first(
    settings: Settings, api_as: ClientFor, admin: User, db: Session, tmp_path: Path
) -> None:
    require((FLOWERS12 / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS12}")
    api = api_as(admin)
    w = World(settings, api, admin, db, tmp_path)
    ctx, pid, names, odd_ids = w.ctx, w.pid, w.names, w.odd_ids
    flower_ids, unlabeled_flowers = w.flower_ids, w.unlabeled_flowers

    rid = w.start_run()
    run_training(ctx, rid)
    assert api.get(f"/api/v1/training-runs/{rid}").json()["status"] == "succeeded"

    body = w.outliers()
    assert (body["run_id"], body["total"]) == (rid, len(names))
    items = body["items"]
    assert {i["image_id"] for i in items} == set(names)
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert {i["image_id"] for i in items[: len(odd_ids)]} == odd_ids
    flagged = {i["image_id"] for i in items if i["flagged"]}
    assert odd_ids <= flagged
    assert not flagged & set(unlabeled_flowers)
    assert len(flagged & flower_ids) <= 1  # about 1% of the labeled ones, by design
    assert count_flagged(db, pid) == len(flagged)
    ranks = db.scalars(
        select(OutlierScore.rank).where(OutlierScore.run_id == rid).order_by(OutlierScore.rank)
    ).all()
    assert list(ranks) == list(range(len(names)))

    # The phase is safe to run again on the same run: its rows are replaced, not doubled.
    with ctx.sessions() as session:
        run = session.get_one(TrainingRun, rid)
        data = dataset.build(session, session.get_one(Project, run.project_id), run.level)
        assert score_run(ctx, session, run, data) == len(names)
        session.commit()
    again = w.outliers()
    assert [i["image_id"] for i in again["items"]] == [i["image_id"] for i in items]
    count = db.scalar(
        select(func.count()).select_from(OutlierScore).where(OutlierScore.run_id == rid)
    )
    assert count == len(names)


def test_a_run_killed_in_its_odd_picture_phase_leaves_no_scores(
    settings: Settings, api_as: ClientFor, admin: User, db: Session, tmp_path: Path
) -> None:
    """The run is trained in a child process that stops for good once its scores are
    written into the run's open transaction; kill -9 there leaves none behind."""
    require((FLOWERS12 / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS12}")
    w = World(settings, api_as(admin), admin, db, tmp_path)
    rid = w.start_run()
    ready = tmp_path / "written"
    env = curator_env(settings.data_dir, CURATOR_ML_DEVICE="cpu",
                      CURATOR_ALLOW_WEIGHT_DOWNLOAD="false")  # fmt: skip
    log = tmp_path / "child.log"
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.insights.stopped_in_insights", "outliers", str(rid),
             str(ready)],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for(
                lambda: ready.exists() or child.poll() is not None,
                timeout=300,
                what="the child to write its odd-picture scores",
            )
            assert ready.exists(), log.read_text()[-3000:]
            assert int(ready.read_text()) == len(w.names)
        finally:
            child.kill()  # SIGKILL: no rollback, no goodbye
            child.wait()
    db.expire_all()
    count = db.scalar(
        select(func.count()).select_from(OutlierScore).where(OutlierScore.run_id == rid)
    )
    assert count == 0
    assert db.get_one(TrainingRun, rid).status is RunStatus.running  # the reaper's to fail
    assert w.outliers() == {"items": [], "total": 0, "run_id": None}
