"""Runs and imports are an outbox: started while the broker is down, they wait as rows,
and the dispatcher sends them once it answers.

Here the broker is a closed port (down) or the filesystem broker; the real Redis that
stops and comes back, with a real worker, is in test_outbox_redis.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.background.dispatch import dispatch_due
from app.background.models import WorkerHeartbeat
from app.background.outbox import UNREACHABLE
from app.broker import make_celery
from app.config import Settings
from app.db import make_engine, make_sessionmaker, utcnow
from app.images.models import BatchStatus, ImportBatch
from app.main import create_app
from app.task_names import IMPORT_PLAN, PING, TRAIN
from app.tasks import enqueue_after_commit
from app.training.models import RunStatus, TrainingRun
from tests.conftest import PASSWORD, ClientFor
from tests.images import corpus
from tests.images.helpers import file_part, jpegs, make_zip
from tests.labeling.helpers import arrange, label
from tests.support.processes import free_port
from tests.workers.job_rows import import_row, project, run_row

SECRET = "s3cret-pass"


@pytest.fixture
def down(settings: Settings) -> Iterator[FastAPI]:
    """The app, with its broker on a port where nothing listens."""
    url = f"redis://:{SECRET}@127.0.0.1:{free_port()}/0"
    application = create_app(settings.model_copy(update={"broker_url": url}))
    yield application
    application.state.engine.dispose()


def _login(app: FastAPI, user: User) -> TestClient:
    client = TestClient(app)
    token = client.post(
        "/api/v1/auth/token", data={"username": user.username, "password": PASSWORD}
    )
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return client


def test_a_run_started_while_the_broker_is_down_is_queued_not_a_500(
    down: FastAPI, admin: User, db: Session
) -> None:
    api = _login(down, admin)
    s = arrange(api, images=6)  # the upload answers too: its embedding waits
    for n, name in enumerate(["wine", "wine", "beer", "beer"]):
        label(api, s.image_ids[n], s.categories[name])  # labeling works without the broker
    resp = api.post(f"/api/v1/projects/{s.pid}/training-runs", json={"mode": "linear"})
    assert resp.status_code == 202, resp.text
    assert resp.json() == {"id": resp.json()["id"], "status": "queued", "message": UNREACHABLE}
    run = db.get_one(TrainingRun, resp.json()["id"])
    assert (run.status, run.dispatched_at, run.dispatch_attempts) == (RunStatus.queued, None, 0)
    assert SECRET not in resp.text


def test_the_train_button_while_the_broker_is_down_says_so(down: FastAPI, admin: User) -> None:
    api = _login(down, admin)
    s = arrange(api, images=4)
    for n, name in enumerate(["wine", "wine", "beer", "beer"]):
        label(api, s.image_ids[n], s.categories[name])
    web = TestClient(down)
    page = web.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    web.post("/login", data={"username": admin.username, "password": PASSWORD, "csrf_token": token})
    form = web.get(f"/projects/{s.pid}/training").text
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    resp = web.post(f"/projects/{s.pid}/runs", data={"csrf_token": token, "mode": "linear"})
    assert resp.status_code == 200  # after the redirect
    assert "the task queue is unreachable, it will start when it is back" in resp.text


def test_auto_train_while_the_broker_is_down_queues_the_run(
    down: FastAPI, admin: User, db: Session
) -> None:
    api = _login(down, admin)
    s = arrange(api, images=4)
    api.patch(f"/api/v1/projects/{s.pid}", json={"auto_train_every": 4})
    for n, name in enumerate(["wine", "beer", "wine", "beer"]):
        label(api, s.image_ids[n], s.categories[name])  # the 4th starts a run: still 201
    (run,) = db.scalars(select(TrainingRun).where(TrainingRun.project_id == s.pid))
    assert (run.trigger, run.status, run.dispatched_at) == ("auto", RunStatus.queued, None)


def test_an_import_job_started_while_the_broker_is_down_is_queued(
    down: FastAPI, admin: User, db: Session
) -> None:
    api = _login(down, admin)
    pid = project(api)
    archive = make_zip([(f"{i}.jpg", corpus.jpeg(seed=i)) for i in range(3)])
    resp = api.post(
        f"/api/v1/projects/{pid}/images",
        params={"mode": "background"},
        files=[file_part("many.zip", archive)],
    )
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert (body["job"]["status"], body["message"]) == ("queued", UNREACHABLE)
    batch = db.get_one(ImportBatch, body["job"]["id"])
    assert (batch.status, batch.dispatched_at) == (BatchStatus.queued, None)
    # A small upload is imported at once, as before: no worker needed.
    small = api.post(f"/api/v1/projects/{pid}/images", files=jpegs(2, start=10))
    assert small.status_code == 200, small.text
    assert len(small.json()["imported"]) == 2


def test_a_send_that_fails_after_the_commit_leaves_the_commit_alone(settings: Settings) -> None:
    """The root cause of the old 500: the after-commit send raised out of the commit."""
    broker = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    closed = make_celery(settings.model_copy(update={"broker_url": broker}))
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    failed: list[str] = []
    with sessions() as session:
        now = utcnow()
        session.add(
            WorkerHeartbeat(boot="b1", node="n", host="h", pid=1, started_at=now, seen_at=now)
        )
        enqueue_after_commit(
            session, closed, PING, queue="ingest", on_failure=lambda: failed.append("x")
        )
        session.commit()  # does not raise
        assert failed == ["x"]
        assert session.get_one(WorkerHeartbeat, "b1").node == "n"  # the session still works
    with sessions() as other:
        assert other.get(WorkerHeartbeat, "b1") is not None  # and the rows were committed


def _messages(data_dir: Path) -> list[tuple[str, list[object]]]:
    """The task name and arguments of every message in the filesystem broker's queue."""
    found = []
    for path in sorted((data_dir / "broker" / "queue").glob("*.msg")):
        message = json.loads(path.read_text())
        body = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], body[0]))
    return found


def test_the_dispatcher_sends_what_never_left_and_what_nobody_claimed(
    api_as: ClientFor, admin: User, db: Session, settings: Settings
) -> None:
    pid = project(api_as(admin))
    now = utcnow()
    never = run_row(db, pid)
    recent = run_row(db, pid, dispatched_at=now - timedelta(seconds=10), dispatch_attempts=1)
    lost = run_row(db, pid, dispatched_at=now - timedelta(seconds=90), dispatch_attempts=1)
    # Sent twice already: the next try waits twice as long (a long run ahead of it).
    patient = run_row(db, pid, dispatched_at=now - timedelta(seconds=90), dispatch_attempts=2)
    started = run_row(db, pid, status=RunStatus.running)
    job = import_row(db, pid, status=BatchStatus.queued)
    celery = make_celery(settings)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    assert dispatch_due(sessions, celery, timeout=60) == 3
    assert sorted(_messages(settings.data_dir)) == sorted(
        [(TRAIN, [never.id]), (TRAIN, [lost.id]), (IMPORT_PLAN, [job.id])]
    )
    for row in (never, recent, lost, patient, started, job):
        db.refresh(row)
    assert (never.dispatch_attempts, lost.dispatch_attempts, job.dispatch_attempts) == (1, 2, 1)
    assert never.dispatched_at is not None
    assert (recent.dispatch_attempts, patient.dispatch_attempts) == (1, 2)
    assert started.dispatch_attempts == 0
    assert dispatch_due(sessions, celery, timeout=60) == 0  # nothing is due twice
