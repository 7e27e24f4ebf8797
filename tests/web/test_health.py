"""/api/v1/health: always HTTP 200 (container checks test for that), and the truth inside.

``degraded`` when the broker is down, when no worker reported recently, or when the
data dir is nearly full. Anyone may ask; nothing secret is in the answer.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.background.models import WorkerHeartbeat
from app.config import Settings
from app.db import utcnow
from app.main import create_app
from tests.support.processes import free_port

SECRET = "hunter2-broker-password"


def _app(settings: Settings, **changes: object) -> FastAPI:
    return create_app(settings.model_copy(update=changes))


@pytest.fixture
def healthy(settings: Settings) -> Iterator[FastAPI]:
    application = _app(settings, min_free_bytes=0)
    yield application
    application.state.engine.dispose()


def _worker_seen(db: Session, ago: timedelta, boot: str = "boot-1") -> None:
    seen = utcnow() - ago
    db.add(
        WorkerHeartbeat(
            boot=boot,
            node="curator-ml@box",
            host="box",
            pid=42,
            queues="ml",
            started_at=seen - timedelta(minutes=1),
            seen_at=seen,
        )
    )
    db.commit()


def _health(app: FastAPI) -> dict[str, object]:
    resp = TestClient(app).get("/api/v1/health")  # no credentials
    assert resp.status_code == 200, resp.text
    body: dict[str, object] = resp.json()
    return body


def test_everything_up_is_ok(healthy: FastAPI, db: Session, settings: Settings) -> None:
    _worker_seen(db, timedelta(seconds=3))
    body = _health(healthy)
    assert body["status"] == "ok"
    assert (body["database"], body["broker"]) == ("ok", "ok")
    worker = body["worker"]
    assert isinstance(worker, dict)
    assert worker["ok"] is True
    assert worker["last_seen"] is not None
    disk = body["disk"]
    assert isinstance(disk, dict)
    assert disk["ok"] is True
    free = shutil.disk_usage(settings.data_dir).free
    assert abs(int(disk["free_bytes"]) - free) < 2**30  # the data dir's disk, about now


def test_no_worker_reporting_recently_is_degraded(healthy: FastAPI, db: Session) -> None:
    body = _health(healthy)
    assert body["status"] == "degraded"
    assert body["worker"] == {"last_seen": None, "ok": False}
    _worker_seen(db, timedelta(minutes=10))  # stopped reporting long ago
    body = _health(healthy)
    assert body["status"] == "degraded"
    worker = body["worker"]
    assert isinstance(worker, dict)
    assert worker["ok"] is False
    assert worker["last_seen"] is not None


def test_a_broker_that_does_not_answer_is_degraded_fast_and_unnamed(
    settings: Settings, db: Session
) -> None:
    _worker_seen(db, timedelta(seconds=1))
    url = f"redis://:{SECRET}@127.0.0.1:{free_port()}/0"
    app = _app(settings, broker_url=url, min_free_bytes=0)
    started = time.monotonic()
    resp = TestClient(app).get("/api/v1/health")
    assert time.monotonic() - started < 3
    assert resp.status_code == 200
    assert (resp.json()["status"], resp.json()["broker"]) == ("degraded", "unreachable")
    assert SECRET not in resp.text
    assert "127.0.0.1" not in resp.text
    assert "redis" not in resp.text
    app.state.engine.dispose()


def test_a_nearly_full_data_dir_is_degraded(settings: Settings, db: Session) -> None:
    _worker_seen(db, timedelta(seconds=1))
    free = shutil.disk_usage(settings.data_dir).free
    app = _app(settings, min_free_bytes=free + 2**40)  # more than is free: "nearly full"
    body = _health(app)
    assert body["status"] == "degraded"
    disk = body["disk"]
    assert isinstance(disk, dict)
    assert disk["ok"] is False
    assert int(disk["free_bytes"]) > 0
    app.state.engine.dispose()


def test_the_default_threshold_is_one_gibibyte() -> None:
    assert Settings(env="test").min_free_bytes == 2**30
