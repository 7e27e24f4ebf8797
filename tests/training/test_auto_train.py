"""Auto-train queues a linear run every N labels, never two at once."""

from __future__ import annotations

from celery import Celery
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.projects.models import Project
from app.training import auto
from app.training.models import RunStatus, TrainingRun
from tests.conftest import ClientFor
from tests.labeling.helpers import arrange, label


def _runs(db: Session, pid: int) -> list[TrainingRun]:
    db.expire_all()
    return list(db.scalars(select(TrainingRun).where(TrainingRun.project_id == pid)))


def test_every_n_labels_queues_one_run(
    api_as: ClientFor, admin: User, db: Session, app: FastAPI
) -> None:
    api = api_as(admin)
    s = arrange(api, images=12)
    api.patch(f"/api/v1/projects/{s.pid}", json={"auto_train_every": 4})
    celery: Celery = app.state.celery
    project = db.get_one(Project, s.pid)
    cats = [s.categories["wine"], s.categories["beer"]]
    for n in range(3):
        label(api, s.image_ids[n], cats[n % 2])
    assert auto.maybe_train(db, celery, project) is None  # 3 of 4
    label(api, s.image_ids[3], cats[1])
    run = auto.maybe_train(db, celery, project)
    assert run is not None
    assert (run.mode.value, run.trigger, run.label_count) == ("linear", "auto", 4)
    db.commit()
    for n in range(4, 9):
        label(api, s.image_ids[n], cats[n % 2])
    assert auto.maybe_train(db, celery, project) is None  # one is queued already
    run.status = RunStatus.succeeded
    db.commit()
    second = auto.maybe_train(db, celery, project)
    assert second is not None
    assert second.label_count == 9
    db.commit()
    assert len(_runs(db, s.pid)) == 2


def test_off_and_not_trainable(api_as: ClientFor, admin: User, db: Session, app: FastAPI) -> None:
    api = api_as(admin)
    s = arrange(api, images=6)
    celery: Celery = app.state.celery
    api.patch(f"/api/v1/projects/{s.pid}", json={"auto_train_every": 2})
    project = db.get_one(Project, s.pid)
    for n in range(3):  # one class only: nothing to learn
        label(api, s.image_ids[n], s.categories["wine"])
    assert auto.maybe_train(db, celery, project) is None
    label(api, s.image_ids[3], s.categories["beer"])
    assert auto.maybe_train(db, celery, project) is None  # refused 1 label ago: wait for 2
    label(api, s.image_ids[4], s.categories["beer"])
    assert auto.maybe_train(db, celery, project) is not None
    db.rollback()
    api.patch(f"/api/v1/projects/{s.pid}", json={"auto_train_every": 0})
    db.refresh(project)
    assert auto.maybe_train(db, celery, project) is None
