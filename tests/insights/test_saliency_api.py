"""GET /api/v1/images/{iid}/saliency without a worker: who may ask, what is refused, and
that asking files the job once (the worker's side is in test_saliency_worker.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.background.dispatch import dispatch_due
from app.broker import make_celery
from app.config import Settings
from app.db import make_engine, make_sessionmaker, utcnow
from app.insights.models import PREDICTED_CLASS, SaliencyMap, SaliencyStatus
from app.insights.saliency import SALIENCY_MAPS, map_path
from app.main import create_app
from app.task_names import SALIENCY
from app.training.models import Prediction, RunStatus, TrainingRun
from tests.conftest import PASSWORD, ClientFor, UserFactory
from tests.insights.saliency_world import SaliencyWorld, add_run, build, fake_model
from tests.support.processes import free_port


@pytest.fixture
def world(api_as: ClientFor, manager: User, db: Session, settings: Settings) -> SaliencyWorld:
    built = build(api_as(manager), db, settings)
    fake_model(settings, built.run_id)
    return built


def _url(world: SaliencyWorld, n: int = 0) -> str:
    return f"/api/v1/images/{world.image_ids[n]}/saliency"


def _rows(db: Session) -> list[SaliencyMap]:
    db.expire_all()
    return list(db.scalars(select(SaliencyMap).order_by(SaliencyMap.id)))


def _messages(settings: Settings) -> int:
    """Saliency task messages waiting in the embedded (filesystem) broker."""
    folder = settings.data_dir / "broker" / "queue"
    files = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    return sum(json.loads(p.read_text())["headers"]["task"] == SALIENCY for p in files)


def test_the_first_request_queues_one_job_and_later_ones_only_wait(
    api_as: ClientFor, manager: User, labeler: User, world: SaliencyWorld, db: Session,
    settings: Settings,
) -> None:  # fmt: skip
    mona = api_as(manager)
    mona.post(f"/api/v1/projects/{world.project_id}/members", json={"username": labeler.username})
    first = mona.get(_url(world), params={"run_id": world.run_id})
    assert first.status_code == 202, first.text
    assert first.headers["retry-after"] == "1"
    assert first.json() == {"status": "queued", "run_id": world.run_id, "detail": "Queued."}
    for client in (mona, api_as(labeler), mona):  # members read it: labelers too
        again = client.get(_url(world))  # the latest run is the default
        assert again.status_code == 202
    rows = _rows(db)
    assert len(rows) == 1
    assert (rows[0].run_id, rows[0].image_id) == (world.run_id, world.image_ids[0])
    assert rows[0].category_id == PREDICTED_CLASS  # no stored prediction: the worker picks
    assert rows[0].status is SaliencyStatus.queued
    assert rows[0].dispatch_attempts == 1
    assert _messages(settings) == 1


def test_the_stored_prediction_is_the_default_class(
    api_as: ClientFor, manager: User, world: SaliencyWorld, db: Session
) -> None:
    db.add(
        Prediction(
            run_id=world.run_id,
            image_id=world.image_ids[1],
            category_id=world.category_ids[2],
            confidence=0.9,
            probabilities=b"\x00" * 6,
        )
    )
    db.commit()
    mona = api_as(manager)
    assert mona.get(_url(world, 1)).status_code == 202
    explicit = {"category_id": world.category_ids[2]}
    assert mona.get(_url(world, 1), params=explicit).status_code == 202
    assert [r.category_id for r in _rows(db)] == [world.category_ids[2]]  # one map, not two


def test_outsiders_and_other_projects_members_learn_nothing(
    api_as: ClientFor, manager: User, make_user: UserFactory, world: SaliencyWorld,
    client: TestClient, db: Session,
) -> None:  # fmt: skip
    outsider = api_as(make_user(Role.labeler, "olga"))
    other_manager = api_as(make_user(Role.manager, "otto"))
    for caller in (outsider, other_manager):
        resp = caller.get(_url(world), params={"run_id": world.run_id})
        assert resp.status_code == 404
        assert resp.json()["detail"] == f"No image with id {world.image_ids[0]}."
    assert client.get(_url(world)).status_code == 401
    assert _rows(db) == []


def test_a_run_of_another_project_is_not_found(
    api_as: ClientFor, manager: User, make_user: UserFactory, world: SaliencyWorld,
    db: Session, settings: Settings,
) -> None:  # fmt: skip
    otto = api_as(make_user(Role.manager, "otto"))
    other = build(otto, db, settings, name="Other flowers")
    fake_model(settings, other.run_id)
    mona = api_as(manager)
    resp = mona.get(_url(world), params={"run_id": other.run_id})
    assert resp.status_code == 404
    assert resp.json()["detail"] == f"No training run with id {other.run_id}."
    assert mona.get(_url(world), params={"run_id": 999_999}).status_code == 404
    assert _rows(db) == []


def test_a_category_outside_the_run_is_refused(
    api_as: ClientFor, manager: User, world: SaliencyWorld, db: Session
) -> None:
    mona = api_as(manager)
    extra = mona.post(f"/api/v1/projects/{world.project_id}/categories", json={"name": "iris"})
    for category_id in (extra.json()["id"], 999_999):
        resp = mona.get(_url(world), params={"category_id": category_id})
        assert resp.status_code == 422
        assert f"Category {category_id} is not one of training run" in resp.json()["detail"]
    assert _rows(db) == []


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/images/abc/saliency", {}),
        ("/api/v1/images/0/saliency", {}),
        ("/api/v1/images/-3/saliency", {}),
        ("/api/v1/images/99999999999999999999999/saliency", {}),
        (None, {"run_id": "1.5"}),
        (None, {"run_id": "-1"}),
        (None, {"run_id": "x" * 10_000}),
        (None, {"category_id": "0"}),
        (None, {"category_id": "1e9"}),
        (None, {"category_id": "\x00"}),
        (None, {"category_id": "9" * 400}),
    ],
)
def test_malformed_ids_are_422(
    api_as: ClientFor, manager: User, world: SaliencyWorld, db: Session,
    path: str | None, params: dict[str, str],
) -> None:  # fmt: skip
    resp = api_as(manager).get(path or _url(world), params=params)
    assert resp.status_code == 422, resp.text
    assert isinstance(resp.json()["detail"], str)
    assert _rows(db) == []


def test_a_run_that_is_not_a_trained_model_has_no_maps(
    api_as: ClientFor, manager: User, world: SaliencyWorld, db: Session, settings: Settings
) -> None:
    mona = api_as(manager)
    queued = add_run(db, world.project_id, world.category_ids, status=RunStatus.queued)
    resp = mona.get(_url(world), params={"run_id": queued.id})
    assert resp.status_code == 409
    assert "queued" in resp.json()["detail"]

    # Just finished: its files are being written; ask again later, nothing is queued yet.
    fresh = add_run(db, world.project_id, world.category_ids)
    waiting = mona.get(_url(world), params={"run_id": fresh.id})
    assert waiting.status_code == 202
    assert waiting.json()["status"] == "waiting"
    assert int(waiting.headers["retry-after"]) >= 1
    # Long finished and still without files: say so, do not wait for ever.
    fresh.finished_at = utcnow() - timedelta(hours=2)
    db.commit()
    gone = mona.get(_url(world), params={"run_id": fresh.id})
    assert gone.status_code == 409
    assert "no model files" in gone.json()["detail"]
    assert _rows(db) == []


def test_a_project_without_a_trained_model(
    api_as: ClientFor, manager: User, world: SaliencyWorld, db: Session
) -> None:
    db.delete(db.get_one(TrainingRun, world.run_id))
    db.commit()
    resp = api_as(manager).get(_url(world))
    assert resp.status_code == 404
    assert resp.json()["detail"] == "This project has no trained model yet."


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(proc.stdout)


def test_a_map_whose_worker_died_is_queued_again_by_the_next_request(
    api_as: ClientFor, manager: User, world: SaliencyWorld, db: Session, settings: Settings
) -> None:
    import socket

    mona = api_as(manager)
    assert mona.get(_url(world)).status_code == 202
    row = _rows(db)[0]
    row.status = SaliencyStatus.running  # as a worker's claim leaves it
    row.started_at = utcnow()
    row.owner_host, row.owner_pid, row.owner_boot = socket.gethostname(), _dead_pid(), "gone"
    db.commit()
    resp = mona.get(_url(world))
    assert resp.status_code == 202
    assert resp.json()["status"] == "queued"
    row = _rows(db)[0]
    assert (row.status, row.dispatch_attempts) == (SaliencyStatus.queued, 2)
    assert _messages(settings) == 2


def test_a_live_worker_s_map_is_left_alone(
    api_as: ClientFor, manager: User, world: SaliencyWorld, db: Session
) -> None:
    import os
    import socket

    mona = api_as(manager)
    assert mona.get(_url(world)).status_code == 202
    row = _rows(db)[0]
    row.status, row.started_at = SaliencyStatus.running, utcnow()
    row.owner_host, row.owner_pid, row.owner_boot = socket.gethostname(), os.getpid(), "alive"
    db.commit()
    resp = mona.get(_url(world))
    assert resp.json()["status"] == "running"
    assert _rows(db)[0].dispatch_attempts == 1


def test_a_failed_map_says_why_and_is_not_retried(
    api_as: ClientFor, manager: User, world: SaliencyWorld, db: Session
) -> None:
    mona = api_as(manager)
    assert mona.get(_url(world)).status_code == 202
    row = _rows(db)[0]
    row.status, row.error = SaliencyStatus.failed, "the image cannot be read (truncated)"
    db.commit()
    for _ in range(3):
        resp = mona.get(_url(world))
        assert resp.status_code == 409
        assert resp.json()["detail"] == (
            "The saliency map could not be made: the image cannot be read (truncated)"
        )
    assert _rows(db)[0].dispatch_attempts == 1


def test_a_done_map_whose_file_went_missing_is_made_again(
    api_as: ClientFor, manager: User, world: SaliencyWorld, db: Session, settings: Settings
) -> None:
    mona = api_as(manager)
    assert mona.get(_url(world)).status_code == 202
    row = _rows(db)[0]
    row.status, row.shown_category_id = SaliencyStatus.done, world.category_ids[0]
    db.commit()
    path: Path = map_path(settings, row.run_id, row.image_id, row.category_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    ok = mona.get(_url(world))
    assert ok.status_code == 200
    assert ok.headers["content-type"] == "image/png"
    assert ok.headers["x-category-id"] == str(world.category_ids[0])
    path.unlink()
    again = mona.get(_url(world))
    assert again.status_code == 202
    assert _rows(db)[0].status is SaliencyStatus.queued


def test_asked_while_the_broker_is_down_the_map_waits_as_a_row_and_leaves_when_it_is_back(
    world: SaliencyWorld, manager: User, db: Session, settings: Settings
) -> None:
    down = create_app(
        settings.model_copy(update={"broker_url": f"redis://127.0.0.1:{free_port()}/0"})
    )
    try:
        with TestClient(down) as api:
            token = api.post(
                "/api/v1/auth/token", data={"username": manager.username, "password": PASSWORD}
            ).json()["access_token"]
            started = time.monotonic()
            resp = api.get(_url(world), headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 202  # not a 500, and at once
            assert time.monotonic() - started < 5
    finally:
        down.state.engine.dispose()
    row = _rows(db)[0]
    assert (row.status, row.dispatched_at, row.dispatch_attempts) == (
        SaliencyStatus.queued, None, 0,
    )  # fmt: skip
    assert _messages(settings) == 0
    # The broker answers again: the outbox dispatcher (the web's thread, or a worker's
    # timer) sends what never left.
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    assert dispatch_due(sessions, make_celery(settings), boxes=[SALIENCY_MAPS]) == 1
    row = _rows(db)[0]
    assert row.dispatched_at is not None
    assert row.dispatch_attempts == 1
    assert _messages(settings) == 1
