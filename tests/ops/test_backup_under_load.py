"""The issue's load test: 20 labelers label over real HTTP while `curator backup` runs.

Then the backup is restored into a new data dir and database and served again: every
annotation acknowledged before the backup started is there, every image opens and
matches its sha256, people log in (with a fresh password login, an old token and an old
session cookie) and a real worker trains a model on the restored install.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from app.auth import service as auth_service
from app.auth.models import Role
from app.config import Settings
from app.imports.folder_import import import_folder
from app.main import create_app
from tests.conftest import PASSWORD
from tests.ops.conftest import env_for
from tests.ops.install import FLOWERS, SPECIES
from tests.ops.labelers import Ack, Crew
from tests.support.env import require
from tests.support.processes import REPO, curator_cmd, free_port, running, wait_for, wait_http_ok

pytestmark = pytest.mark.slow
LABELERS = [f"lab{n:02d}" for n in range(1, 21)]


def _arrange(settings: Settings) -> tuple[int, int, list[int]]:
    """(project to label, project to train, the labeling project's categories)."""
    app = create_app(settings)
    try:
        with app.state.sessionmaker() as db:
            auth_service.create_user(db, "mona", PASSWORD, Role.manager)
            for name in LABELERS:
                auth_service.create_user(db, name, PASSWORD, Role.labeler)
            db.commit()
        with TestClient(app) as api:
            token = api.post("/api/v1/auth/token", data={"username": "mona", "password": PASSWORD})
            api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            train = _project(api, "Train")
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                for species in SPECIES:
                    for path in sorted((FLOWERS / "train" / species).iterdir())[:8]:
                        archive.write(path, f"{species}/{path.name}")
            files = [("files", ("train.zip", buffer.getvalue(), "application/zip"))]
            form = {"labels_from_folders": "true"}
            done = api.post(f"/api/v1/projects/{train}/images?mode=sync", files=files, data=form)
            assert done.status_code == 200, done.text
            assert len(done.json()["imported"]) == 24
            load = _project(api, "Load")
            cats = []
            for species in SPECIES:
                made = api.post(f"/api/v1/projects/{load}/categories", json={"name": species})
                cats.append(int(made.json()["id"]))
            for name in LABELERS:
                joined = api.post(
                    f"/api/v1/projects/{load}/members", json={"username": name, "role": "labeler"}
                )
                assert joined.status_code == 201, joined.text
            mona_id = int(api.get("/api/v1/users/me").json()["id"])
    finally:
        app.state.engine.dispose()
    _batch, summary = import_folder(
        app.state.sessionmaker, settings, load, mona_id, FLOWERS / "train", workers=2
    )
    assert len(summary.imported) >= 700
    return load, train, cats


def _project(api: TestClient, name: str) -> int:
    made = api.post("/api/v1/projects", json={"name": name})
    assert made.status_code == 201, made.text
    pid = int(made.json()["id"])
    # No auto-train: the source runs no worker, and queued runs would only wait.
    assert api.patch(f"/api/v1/projects/{pid}", json={"auto_train_every": 0}).status_code == 200
    return pid


def _cookie_login(base: str) -> httpx.Cookies:
    with httpx.Client(base_url=base) as browser:
        page = browser.get("/login").text
        marker = 'name="csrf_token" value="'
        start = page.index(marker) + len(marker)
        csrf = page[start : page.index('"', start)]
        form = {"username": "mona", "password": PASSWORD, "csrf_token": csrf}
        assert browser.post("/login", data=form).status_code == 303
        return browser.cookies


def test_a_backup_under_load_restores_every_acknowledged_label_and_trains(
    new_install: Callable[[str, bool], Settings], tmp_path: Path
) -> None:
    require((FLOWERS / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS}")
    source, target = new_install("source", True), new_install("target", False)
    load, train, cats = _arrange(source)
    archive = tmp_path / "under-load.tar.gz"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = curator_cmd("serve", "--port", str(port), "--no-worker")
    with running(serve, env_for(source), tmp_path / "source.log") as proc:
        wait_http_ok(f"{base}/api/v1/health", proc, tmp_path / "source.log")
        cookies = _cookie_login(base)
        old_token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "mona", "password": PASSWORD}
        ).json()["access_token"]
        crew = Crew(base, load, cats, LABELERS)
        crew.start()
        try:
            wait_for(lambda: crew.count() >= 60 or crew.failures, timeout=120, what="60 labels")
            started = time.monotonic()
            made = subprocess.run(
                curator_cmd("backup", str(archive)),
                env=env_for(source),
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=600,
            )
            ended = time.monotonic()
        finally:
            crew.finish()
    assert made.returncode == 0, made.stderr
    assert crew.failures == []
    before = [a for a in crew.acks if a.acked < started]
    during = [a for a in crew.acks if a.sent > started and a.acked < ended]
    print(f"acknowledged: {len(before)} before the backup, {len(during)} while it ran")
    assert len(before) >= 60
    assert during, "nobody labeled while the backup ran: the test proved nothing"

    restored = subprocess.run(
        curator_cmd("restore", str(archive)),
        env=env_for(target),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert restored.returncode == 0, restored.stderr
    _check_restored(target, tmp_path, before, (load, train), cookies, old_token)


def _check_restored(
    target: Settings,
    tmp_path: Path,
    acked: list[Ack],
    projects: tuple[int, int],
    cookies: httpx.Cookies,
    old_token: str,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = env_for(target) | {
        "CURATOR_ML_DEVICE": "cpu",
        "CURATOR_ALLOW_WEIGHT_DOWNLOAD": "false",
        "TORCH_HOME": str(tmp_path / "torch-home"),
        "HF_HOME": str(tmp_path / "hf-home"),
    }
    log = tmp_path / "restored.log"
    with running(curator_cmd("serve", "--port", str(port)), env, log) as proc:
        wait_http_ok(f"{base}/api/v1/health", proc, log)
        with httpx.Client(base_url=base, cookies=cookies) as browser:
            assert browser.get("/projects").status_code == 200  # the old session cookie
        old = httpx.get(f"{base}/api/v1/users/me", headers={"Authorization": f"Bearer {old_token}"})
        assert old.status_code == 200
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "mona", "password": PASSWORD}
        )
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as api:
            _every_ack_is_there(api, acked)
            for pid in projects:
                _every_image_opens(api, pid)
            _trains(api, projects[1], log)


def _every_ack_is_there(api: httpx.Client, acked: list[Ack]) -> None:
    by_image: dict[int, list[Ack]] = defaultdict(list)
    for ack in acked:
        by_image[ack.image_id].append(ack)
    for image_id, acks in by_image.items():
        history = api.get(f"/api/v1/images/{image_id}/annotations")
        assert history.status_code == 200, history.text
        stored = {row["id"]: row for row in history.json()}
        for ack in acks:
            row = stored.get(ack.annotation_id)
            assert row is not None, f"annotation {ack.annotation_id} was acknowledged and is lost"
            assert (row["category_id"], row["rejected"]) == (ack.category_id, ack.rejected)


def _every_image_opens(api: httpx.Client, pid: int) -> None:
    page = api.get(f"/api/v1/projects/{pid}/images", params={"limit": 1000}).json()
    assert page["total"] == len(page["items"]) > 0
    for item in page["items"]:
        got = api.get(f"/api/v1/images/{item['id']}/file")
        assert got.status_code == 200
        assert hashlib.sha256(got.content).hexdigest() == item["sha256"]


def _trains(api: httpx.Client, pid: int, log: Path) -> None:
    started = api.post(f"/api/v1/projects/{pid}/training-runs", json={"mode": "linear"})
    assert started.status_code == 202, started.text
    rid = started.json()["id"]

    def finished() -> bool:
        status = api.get(f"/api/v1/training-runs/{rid}").json()["status"]
        return status not in {"queued", "running"}

    try:
        wait_for(finished, timeout=600, interval=1.0, what=f"training run {rid}")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{log.read_text()[-5000:]}") from None
    run = api.get(f"/api/v1/training-runs/{rid}").json()
    assert run["status"] == "succeeded", run["error"]
    assert run["label_count"] == 24
