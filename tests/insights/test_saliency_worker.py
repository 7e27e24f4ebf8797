"""Saliency maps made by a real `curator worker`: 202 until the PNG exists, then the PNG;
a photo that cannot be read fails with its reason; a worker killed with -9 mid-map is
recovered by the next request and the next worker."""

from __future__ import annotations

import io
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.config import Settings
from app.images.models import Image as ImageRow
from app.images.storage import ImageStore
from app.insights.models import SaliencyMap, SaliencyStatus
from tests.conftest import ClientFor
from tests.insights.saliency_world import SaliencyWorld, build, write_model
from tests.support.processes import curator_cmd, curator_env, running, wait_for

pytestmark = pytest.mark.slow
DISPATCH_TIMEOUT = 3  # seconds before a request sends a lost message again


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"dispatch_timeout": DISPATCH_TIMEOUT})


@pytest.fixture
def world(api_as: ClientFor, manager: User, db: Session, settings: Settings) -> SaliencyWorld:
    built = build(api_as(manager), db, settings)
    write_model(settings, built.run_id, classes=len(built.category_ids))
    return built


def _env(settings: Settings) -> dict[str, str]:
    return curator_env(
        settings.data_dir,
        CURATOR_ML_DEVICE="cpu",
        CURATOR_ALLOW_WEIGHT_DOWNLOAD="false",
        CURATOR_DISPATCH_TIMEOUT=str(DISPATCH_TIMEOUT),
    )


def _url(world: SaliencyWorld, n: int) -> str:
    return f"/api/v1/images/{world.image_ids[n]}/saliency"


def _until_answered(api: TestClient, url: str, log: Path, **params: int) -> Any:
    def answered() -> Any:
        resp = api.get(url, params=params)
        return resp if resp.status_code != 202 else None

    try:
        return wait_for(answered, timeout=240, interval=0.5, what=url)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{log.read_text()[-4000:]}") from None


def _statuses(db: Session) -> dict[int, SaliencyStatus]:
    db.expire_all()
    rows = db.execute(select(SaliencyMap.image_id, SaliencyMap.status)).all()
    return dict(rows)  # type: ignore[arg-type]


def test_a_worker_makes_the_map_and_later_requests_get_the_same_png(
    api_as: ClientFor, manager: User, world: SaliencyWorld, db: Session, settings: Settings,
    tmp_path: Path,
) -> None:  # fmt: skip
    api = api_as(manager)
    broken = db.get_one(ImageRow, world.image_ids[2])
    ImageStore(settings.data_dir).original_path(broken.sha256).write_bytes(b"\xff\xd8 not a jpeg")
    asked = world.category_ids[1]
    assert api.get(_url(world, 0)).status_code == 202
    assert api.get(_url(world, 1), params={"category_id": asked}).status_code == 202
    assert api.get(_url(world, 2)).status_code == 202

    log = tmp_path / "worker.log"
    with running(
        curator_cmd("worker", "--queues", "ml", "--concurrency", "1"), _env(settings), log
    ):
        first = _until_answered(api, _url(world, 0), log)
        chosen = _until_answered(api, _url(world, 1), log, category_id=asked)
        failed = _until_answered(api, _url(world, 2), log)

    for resp in (first, chosen):
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"] == "image/png"
        assert resp.headers["x-run-id"] == str(world.run_id)
        picture = Image.open(io.BytesIO(resp.content))
        assert (picture.format, picture.mode, picture.size) == ("PNG", "RGBA", (224, 224))
        alpha = np.asarray(picture)[..., 3]
        assert alpha[112, 112] > 0  # the centre crop is covered
        assert alpha[0, 0] == 0  # the margin the model never saw is clear
    assert int(first.headers["x-category-id"]) in world.category_ids
    assert chosen.headers["x-category-id"] == str(asked)
    assert failed.status_code == 409
    detail = failed.json()["detail"]
    assert detail.startswith("The saliency map could not be made: the image cannot be read")

    again = api.get(_url(world, 0))  # no worker now: served from the cache
    assert again.status_code == 200
    assert again.content == first.content
    assert api.get(_url(world, 2)).status_code == 409  # a failure is not retried for ever
    assert sorted(_statuses(db).values()) == ["done", "done", "failed"]


def test_a_worker_killed_mid_map_is_recovered_by_the_next_request(
    api_as: ClientFor, manager: User, world: SaliencyWorld, db: Session, settings: Settings,
    tmp_path: Path,
) -> None:  # fmt: skip
    api = api_as(manager)
    for n in range(len(world.image_ids)):
        assert api.get(_url(world, n)).status_code == 202

    def one_running() -> int | None:
        found = [i for i, s in _statuses(db).items() if s is SaliencyStatus.running]
        return found[0] if found else None

    log = tmp_path / "worker.log"
    cmd = curator_cmd("worker", "--queues", "ml", "--concurrency", "1")
    with running(cmd, _env(settings), log) as proc:
        # A new worker's first map loads the model: seconds, while the row says running.
        victim = wait_for(one_running, timeout=180, interval=0.01, what="a map to start")
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and its pool, mid-map
        proc.wait()
    assert _statuses(db)[victim] is SaliencyStatus.running  # it never finished
    n = world.image_ids.index(int(victim))

    def queued_again() -> bool:
        # Its worker is gone (the pid, once the kernel has torn the process down): the
        # next request queues it again, well before job_stale_after (45 s) would.
        resp = api.get(_url(world, n))
        assert resp.status_code == 202
        return bool(resp.json()["status"] == "queued")

    wait_for(queued_again, timeout=10, interval=0.2, what="the request to queue it again")

    second = tmp_path / "second.log"
    with running(cmd, _env(settings), second):
        for k in range(len(world.image_ids)):
            done = _until_answered(api, _url(world, k), second)
            assert done.status_code == 200, done.text
    assert set(_statuses(db).values()) == {SaliencyStatus.done}
