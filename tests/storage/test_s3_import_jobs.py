"""Background imports with an s3:// store: the web stages the upload in the bucket and a
worker (here: the job's steps, run in this process) plans and imports from it, with no
disk shared between them. A store that goes down fails the job with its name."""

from __future__ import annotations

import os
import socket

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.background.owners import Owner
from app.blobs import StoreUnavailable
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.images.models import BatchStatus, Image, ImportBatch
from app.imports import jobs
from tests.conftest import ClientFor
from tests.images import corpus
from tests.images.helpers import file_part, make_zip, new_project
from tests.support.s3 import S3Server

OWNER = Owner(node="test@here", host=socket.gethostname(), pid=os.getpid(), boot="s3-tests")


@pytest.fixture
def settings(s3_settings: Settings) -> Settings:
    return s3_settings


def _queue(api: object, pid: int, count: int) -> int:
    entries = [(f"glass/{i}.jpg", corpus.jpeg(seed=70 + i)) for i in range(count)]
    entries.append(("bad.jpg", b"not a picture"))
    resp = api.post(  # type: ignore[attr-defined]
        f"/api/v1/projects/{pid}/images",
        params={"mode": "background"},
        files=[file_part("many.zip", make_zip(entries))],
        data={"labels_from_folders": "true"},
    )
    assert resp.status_code == 202, resp.text
    return int(resp.json()["job"]["id"])


def _context(settings: Settings) -> tuple[jobs.JobContext, list[tuple[int, int, int]]]:
    """The job's context as a worker has it; chunks are collected instead of queued."""
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    chunks: list[tuple[int, int, int]] = []
    return jobs.JobContext(settings, sessions, lambda b, s, e: chunks.append((b, s, e))), chunks


def test_a_job_staged_in_the_bucket_is_imported_and_its_staging_removed(
    api_as: ClientFor, admin: User, s3: S3Server, settings: Settings, db: Session
) -> None:
    api = api_as(admin)
    pid = new_project(api)
    job = _queue(api, pid, 5)
    assert [k for k in s3.stored_keys() if k.startswith(f"staging/{job}/")]
    assert not (settings.data_dir / "staging").exists()  # nothing on the web's disk
    ctx, chunks = _context(settings)
    jobs.plan(ctx, job, OWNER)
    for batch_id, start, stop in chunks:
        jobs.chunk(ctx, batch_id, start, stop, OWNER)
    done = api.get(f"/api/v1/imports/{job}").json()
    assert done["status"] == "succeeded", done
    assert (done["imported"], done["errors"], done["labeled"]) == (5, 1, 5)
    assert [k for k in s3.stored_keys() if k.startswith("staging/")] == []
    assert len([k for k in s3.stored_keys() if k.startswith("images/")]) == 5
    first = api.get(f"/api/v1/projects/{pid}/images").json()["items"][0]
    assert api.get(first["file_url"]).status_code == 200


def test_a_store_down_mid_job_fails_it_by_name_and_writes_no_image_rows(
    api_as: ClientFor, admin: User, s3: S3Server, settings: Settings, db: Session
) -> None:
    api = api_as(admin)
    pid = new_project(api)
    job = _queue(api, pid, 3)
    ctx, chunks = _context(settings)
    jobs.plan(ctx, job, OWNER)
    s3.stop()
    (batch_id, start, stop) = chunks[0]
    with pytest.raises(StoreUnavailable) as caught:
        jobs.chunk(ctx, batch_id, start, stop, OWNER)
    jobs.fail(ctx, job, jobs.describe(caught.value))  # as the worker's task does
    failed = api.get(f"/api/v1/imports/{job}").json()
    assert failed["status"] == "failed"
    assert s3.url in failed["error"]
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Image)) == 0
    assert db.get_one(ImportBatch, job).status is BatchStatus.failed


def test_a_store_down_refuses_the_upload_before_any_job_exists(
    api_as: ClientFor, admin: User, s3: S3Server, db: Session
) -> None:
    api = api_as(admin)
    pid = new_project(api)
    s3.stop()
    resp = api.post(
        f"/api/v1/projects/{pid}/images",
        params={"mode": "background"},
        files=[file_part("many.zip", make_zip([("a.jpg", corpus.jpeg(seed=1))]))],
    )
    assert resp.status_code == 503
    assert s3.url in resp.json()["detail"]
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(ImportBatch)) == 0
