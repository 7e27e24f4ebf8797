"""Background imports on a real `curator worker`: chunks, progress, and a worker killed mid-job."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.config import Settings
from app.images.models import BatchStatus, Image, ImportBatch
from app.imports.uploads import staging_dir
from app.main import create_app
from tests.conftest import PASSWORD
from tests.images import corpus
from tests.images.helpers import file_part, make_zip, new_project
from tests.support.processes import curator_cmd, curator_env, running, wait_for

pytestmark = pytest.mark.slow


def _client(settings: Settings, user: User) -> TestClient:
    client = TestClient(create_app(settings))
    token = client.post(
        "/api/v1/auth/token", data={"username": user.username, "password": PASSWORD}
    )
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return client


def _job(api: TestClient, job_id: int) -> dict[str, object]:
    body: dict[str, object] = api.get(f"/api/v1/imports/{job_id}").json()
    return body


def test_a_large_upload_becomes_a_job_that_workers_finish(
    settings: Settings, admin: User, db: Session, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"sync_import_max_files": 10})
    api = _client(settings, admin)
    pid = new_project(api)
    entries = [(f"glass/wine/{i}.jpg", corpus.jpeg(seed=i)) for i in range(60)]
    entries += [(f"glass/beer/{i}.jpg", corpus.jpeg(seed=100 + i)) for i in range(40)]
    entries += [("broken/bad.jpg", b"not an image"), ("../evil.jpg", corpus.jpeg(seed=999))]
    resp = api.post(
        f"/api/v1/projects/{pid}/images",
        files=[file_part("big.zip", make_zip(entries)), file_part("dup.jpg", corpus.jpeg(seed=0))],
        data={"labels_from_folders": "true"},
    )
    assert resp.status_code == 202, resp.text
    job = resp.json()["job"]
    assert job["status"] == "queued"
    assert job["source"] == "job"
    log = tmp_path / "worker.log"
    env = curator_env(settings.data_dir)
    with running(curator_cmd("worker", "--queues", "ingest", "--concurrency", "2"), env, log):
        try:
            wait_for(
                lambda: _job(api, job["id"])["status"] == "succeeded", timeout=120, what="the job"
            )
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{_job(api, job['id'])}\n{log.read_text()}") from None
    done = _job(api, job["id"])
    assert (done["total"], done["processed"]) == (103, 103)
    assert (done["imported"], done["duplicates"], done["errors"], done["labeled"]) == (
        100,
        1,
        2,
        100,
    )
    assert {e["filename"] for e in done["error_files"]} == {"broken/bad.jpg", "../evil.jpg"}  # type: ignore[attr-defined]
    # dup.jpg has the bytes of glass/wine/0.jpg. Chunks run in parallel on two processes,
    # so either may land first; the other is the duplicate, and the label still applies.
    (duplicate,) = done["duplicate_files"]  # type: ignore[misc]
    assert duplicate["filename"] in {"dup.jpg", "glass/wine/0.jpg"}
    paths = {c["path"] for c in api.get(f"/api/v1/projects/{pid}/categories").json()}
    assert paths == {"glass", "glass/wine", "glass/beer", "broken"}
    labeled = api.get(f"/api/v1/projects/{pid}/images", params={"status": "labeled"}).json()
    assert labeled["total"] == 100
    assert not staging_dir(settings, job["id"]).exists()


def test_a_worker_killed_mid_job_leaves_it_failed_and_a_rerun_finishes(
    settings: Settings, admin: User, db: Session, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"sync_import_max_files": 10})
    api = _client(settings, admin)
    pid = new_project(api)
    archive = make_zip([(f"{i}.jpg", corpus.jpeg(seed=i)) for i in range(1200)])
    resp = api.post(f"/api/v1/projects/{pid}/images", files=[file_part("many.zip", archive)])
    job_id = resp.json()["job"]["id"]
    env = curator_env(
        settings.data_dir,
        CURATOR_JOB_HEARTBEAT_INTERVAL="1",
        CURATOR_JOB_STALE_AFTER="5",
        CURATOR_WORKER_TICK="1",
    )

    def job() -> ImportBatch:
        db.expire_all()  # read the database: no web request looks at the job
        return db.get_one(ImportBatch, job_id)

    log = tmp_path / "worker.log"
    with running(curator_cmd("worker", "--queues", "ingest"), env, log) as proc:
        wait_for(lambda: job().processed > 0, timeout=120, what="progress")
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and its pool, mid-job
        proc.wait()
    assert job().status is BatchStatus.running
    # No heartbeat for job_stale_after seconds, and its owner is gone: the timer of the
    # next worker to run (here the same one, restarted) marks it failed.
    with running(curator_cmd("worker", "--queues", "ml"), env, tmp_path / "second.log"):
        wait_for(lambda: job().status is BatchStatus.failed, timeout=120, interval=0.5, what="reap")
    failed = _job(api, job_id)
    assert "stopped responding" in str(failed["error"])
    partial = db.scalar(select(func.count()).select_from(Image))
    assert partial is not None
    assert 0 < partial < 1200
    # Uploading the same zip again imports the rest and nothing twice.
    again = api.post(f"/api/v1/projects/{pid}/images", files=[file_part("many.zip", archive)])
    rerun = again.json()["job"]["id"]
    with running(curator_cmd("worker", "--queues", "ingest", "--concurrency", "2"), env, log):
        wait_for(lambda: _job(api, rerun)["status"] == "succeeded", timeout=180, what="the rerun")
    finished = _job(api, rerun)
    assert finished["imported"] == 1200 - partial
    assert finished["duplicates"] == partial
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Image)) == 1200
