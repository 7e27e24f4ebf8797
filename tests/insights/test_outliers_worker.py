"""A real linear run (in this process, real Lite0 embeddings) on flowers12 photos and a
few generated odd pictures: the run's insights phase scores every image, and the odd
ones come first and are flagged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
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
from app.training.models import TrainingRun
from tests.conftest import ClientFor
from tests.images.helpers import new_project
from tests.support import odd_pictures
from tests.support.datasets import FLOWERS12
from tests.support.env import require
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


def test_a_run_scores_every_picture_and_the_odd_ones_come_first(
    settings: Settings, api_as: ClientFor, admin: User, db: Session, tmp_path: Path
) -> None:
    require((FLOWERS12 / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS12}")
    api = api_as(admin)
    pid = new_project(api, "Flowers and odd pictures")
    ctx = _context(settings)
    labeled = _copy(tmp_path / "labeled", "train", 8)
    unlabeled = _copy(tmp_path / "unlabeled", "test", 3)
    odd_folder = tmp_path / "odd"
    for kind, count in ODD.items():
        odd_pictures.write(odd_folder, kind, count, seed=5)
    import_folder(ctx.sessions, settings, pid, admin.id, labeled, labels_from_folders=True)
    import_folder(ctx.sessions, settings, pid, admin.id, unlabeled)
    import_folder(ctx.sessions, settings, pid, admin.id, odd_folder)
    rows = db.execute(
        select(Image.id, Image.filename, Image.status).where(Image.project_id == pid)
    ).all()
    names = {i: name for i, name, _ in rows}
    assert len(names) == 24 + 9 + 8
    odd_ids = {i for i, name in names.items() if name.endswith(".png")}
    flower_ids = {i for i, name in names.items() if name.endswith(".jpg")}
    unlabeled_flowers = sorted(i for i, _, status in rows if status.value == "unlabeled")
    unlabeled_flowers = [i for i in unlabeled_flowers if i in flower_ids]
    assert len(unlabeled_flowers) == 9
    reject(api, unlabeled_flowers[0])  # rejected pictures are scored too

    rid = api.post(f"/api/v1/projects/{pid}/training-runs", json={"mode": "linear"}).json()["id"]
    run_training(ctx, rid)
    assert api.get(f"/api/v1/training-runs/{rid}").json()["status"] == "succeeded"

    body = api.get(f"/api/v1/projects/{pid}/outliers", params={"limit": 1000}).json()
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
    again = api.get(f"/api/v1/projects/{pid}/outliers", params={"limit": 1000}).json()
    assert [i["image_id"] for i in again["items"]] == [i["image_id"] for i in items]
    count = db.scalar(
        select(func.count()).select_from(OutlierScore).where(OutlierScore.run_id == rid)
    )
    assert count == len(names)
