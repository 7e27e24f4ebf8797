"""Redis stops, a run and an import are started, Redis comes back: a real worker runs both.

Nothing is sent by hand: the outbox dispatcher (the web's thread, or the worker's timer)
sends what never left once the broker answers again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import User
from app.background.outbox import UNREACHABLE
from app.config import Settings
from app.images.models import BatchStatus, ImportBatch
from app.main import create_app
from app.task_names import TRAIN
from app.training.models import RunStatus, TrainingRun
from tests.conftest import PASSWORD
from tests.images import corpus
from tests.images.helpers import file_part, make_zip
from tests.labeling.helpers import arrange, label
from tests.support.processes import curator_cmd, curator_env, running, wait_for
from tests.workers.redis_server import RedisServer

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir)
    server.start()
    yield server
    server.stop()


def _login(app: FastAPI, user: User) -> TestClient:
    client = TestClient(app)
    token = client.post(
        "/api/v1/auth/token", data={"username": user.username, "password": PASSWORD}
    )
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return client


def _status(db: Session, model: type[TrainingRun] | type[ImportBatch], row_id: int) -> str:
    db.expire_all()
    row = db.get_one(model, row_id)
    return str(row.status)


def test_work_started_while_redis_is_down_runs_once_it_is_back(
    settings: Settings, admin: User, db: Session, tmp_path: Path, redis_server: RedisServer
) -> None:
    settings = settings.model_copy(update={"broker_url": redis_server.url})
    app = create_app(settings)
    api = _login(app, admin)
    s = arrange(api, images=6)
    for n, name in enumerate(["wine", "wine", "beer", "beer"]):
        label(api, s.image_ids[n], s.categories[name])

    redis_server.stop()
    wait_for(
        lambda: api.get("/api/v1/health").json()["broker"] == "unreachable",
        timeout=20,
        what="health to see the broker down",
    )
    assert api.get("/api/v1/health").json()["status"] == "degraded"
    started = api.post(f"/api/v1/projects/{s.pid}/training-runs", json={"mode": "linear"})
    assert started.status_code == 202, started.text
    assert (started.json()["status"], started.json()["message"]) == ("queued", UNREACHABLE)
    rid = started.json()["id"]
    archive = make_zip([(f"new/{i}.jpg", corpus.jpeg(seed=50 + i)) for i in range(4)])
    uploaded = api.post(
        f"/api/v1/projects/{s.pid}/images",
        params={"mode": "background"},
        files=[file_part("new.zip", archive)],
    )
    assert uploaded.status_code == 202, uploaded.text
    assert uploaded.json()["message"] == UNREACHABLE
    job_id = uploaded.json()["job"]["id"]
    assert _status(db, TrainingRun, rid) == "queued"
    assert db.get_one(TrainingRun, rid).dispatched_at is None

    redis_server.start()  # the same port: the same CURATOR_BROKER_URL
    env = curator_env(
        settings.data_dir,
        CURATOR_BROKER_URL=redis_server.url,
        CURATOR_ML_DEVICE="cpu",
        CURATOR_ALLOW_WEIGHT_DOWNLOAD="false",
        CURATOR_WORKER_TICK="1",
        TORCH_HOME=str(tmp_path / "torch-home"),
        HF_HOME=str(tmp_path / "hf-home"),
    )
    log = tmp_path / "worker.log"
    with running(curator_cmd("worker", "--queues", "ingest,ml"), env, log):
        try:
            wait_for(
                lambda: (
                    _status(db, TrainingRun, rid) == "succeeded"
                    and _status(db, ImportBatch, job_id) == "succeeded"
                ),
                timeout=600,
                interval=0.5,
                what="the run and the import",
            )
            wait_for(
                lambda: api.get("/api/v1/health").json()["status"] == "ok",
                timeout=30,
                what="health to see the worker and the broker",
            )
        except TimeoutError as exc:
            run = db.get_one(TrainingRun, rid)
            raise AssertionError(
                f"{exc}\n{run.status} {run.error}\n{log.read_text()[-4000:]}"
            ) from None
    run = db.get_one(TrainingRun, rid)
    assert run.status is RunStatus.succeeded
    assert run.dispatch_attempts >= 1  # sent by the dispatcher, once the broker was back
    job = db.get_one(ImportBatch, job_id)
    assert (job.status, job.imported) == (BatchStatus.succeeded, 4)
    app.state.engine.dispose()


def test_the_web_sends_what_it_could_not_once_redis_is_back_with_no_worker(
    settings: Settings, admin: User, db: Session, redis_server: RedisServer
) -> None:
    settings = settings.model_copy(update={"broker_url": redis_server.url})
    app = create_app(settings)
    api = _login(app, admin)
    s = arrange(api, images=4)
    for n, name in enumerate(["wine", "wine", "beer", "beer"]):
        label(api, s.image_ids[n], s.categories[name])
    redis_server.stop()
    wait_for(
        lambda: api.get("/api/v1/health").json()["broker"] == "unreachable",
        timeout=20,
        what="health to see the broker down",
    )
    started = api.post(f"/api/v1/projects/{s.pid}/training-runs", json={"mode": "linear"})
    assert started.json()["message"] == UNREACHABLE
    rid = started.json()["id"]
    redis_server.start()
    queue = redis.Redis.from_url(redis_server.url)

    def sent() -> bool:
        db.expire_all()
        return db.get_one(TrainingRun, rid).dispatched_at is not None

    # No worker runs: the web process's own dispatcher thread sends it, on no request.
    wait_for(sent, timeout=60, interval=0.5, what="the web's dispatcher")
    run = db.get_one(TrainingRun, rid)
    assert (run.status, run.dispatch_attempts) == (RunStatus.queued, 1)
    waiting = [json.loads(m)["headers"] for m in queue.lrange("ml", 0, -1)]
    assert {"task": TRAIN, "id": run.task_id} in [
        {"task": h["task"], "id": h["id"]} for h in waiting
    ]  # the message waits in Redis for a worker
    queue.close()
    app.state.engine.dispose()
