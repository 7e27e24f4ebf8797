"""`curator serve` survives a kill -9 of its worker or its web server: the others keep
serving and the killed one comes back. Real processes, real HTTP, the real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from app.broker import make_celery
from app.config import Settings
from app.images.storage import ImageStore
from app.task_names import PING
from tests.support.processes import (
    REPO,
    curator_cmd,
    curator_env,
    free_port,
    wait_for,
    wait_http_ok,
)
from tests.workers.proc_tree import alive, children_of, direct_child

pytestmark = pytest.mark.slow

PASSWORD = "chosen-by-operator"


def _serve(tmp_path: Path, port: int, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            curator_cmd("serve", "--port", str(port), *args),
            env=curator_env(tmp_path / "data", CURATOR_ADMIN_PASSWORD=PASSWORD),
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, log


def _ping(data: Path) -> int:
    """The pid of the worker process that answered a round trip through the broker."""
    reply = make_celery(Settings(data_dir=data)).send_task(PING, queue="ml").get(timeout=90)
    assert reply["reply"] == "pong"
    return int(reply["pid"])


def _stop(proc: subprocess.Popen[bytes], family: set[int]) -> None:
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    assert proc.wait(timeout=60) == 0
    wait_for(lambda: not any(map(alive, family)), timeout=30, what="every descendant to exit")


def test_a_killed_worker_is_restarted_while_the_web_keeps_serving(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc, log = _serve(tmp_path, port)
    try:
        wait_http_ok(f"{base}/api/v1/health", proc, log)
        first_answer = _ping(tmp_path / "data")
        worker = direct_child(proc.pid, "app.cli worker")
        assert worker is not None
        old_family = children_of(proc.pid)
        assert first_answer in children_of(worker)  # the pool process of this worker

        os.kill(worker, signal.SIGKILL)
        # The web server does not notice: it answers while the worker is down.
        wait_for(lambda: not alive(worker), timeout=10, what="the worker to die")
        for _ in range(5):
            assert httpx.get(f"{base}/api/v1/health", timeout=5).status_code == 200
        new_worker = wait_for(
            lambda: direct_child(proc.pid, "app.cli worker"), timeout=30, what="a new worker"
        )
        assert new_worker != worker
        second_answer = _ping(tmp_path / "data")
        assert second_answer in children_of(int(str(new_worker)))
        assert not alive(first_answer)  # the old worker's pool went with it
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}
        )
        assert token.status_code == 200
        _stop(proc, old_family | children_of(proc.pid))
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    text = log.read_text()
    assert "worker was killed by SIGKILL; restarting it in 1 s" in text
    assert "Received SIGINT, stopping." in text


def test_a_killed_web_server_comes_back_and_serves_again(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Two web processes: uvicorn's own workers outlive a kill -9 of their parent and keep
    # the port unless the supervisor ends them too.
    # Files a crash left behind: the start removes the old one, keeps the young one.
    store = ImageStore(tmp_path / "data")
    old_orphan = store.original_path("ab" + "0" * 62)
    young_orphan = store.original_path("cd" + "0" * 62)
    for path in (old_orphan, young_orphan):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"left by a crash")
    os.utime(old_orphan, (time.time() - 7200,) * 2)
    proc, log = _serve(tmp_path, port, "--no-worker", "--web-workers", "2")
    try:
        wait_http_ok(f"{base}/api/v1/health", proc, log)
        assert not old_orphan.exists()
        assert young_orphan.exists()
        wait_for(lambda: len(children_of(proc.pid)) >= 3, timeout=60, what="two web workers")
        web = direct_child(proc.pid, "uvicorn")
        assert web is not None
        old_family = children_of(proc.pid)

        os.kill(web, signal.SIGKILL)
        wait_for(
            lambda: not any(map(alive, old_family)),
            timeout=30,
            what="the killed server's worker processes to be ended",
        )
        new_web = wait_for(lambda: direct_child(proc.pid, "uvicorn"), timeout=30, what="new web")
        assert new_web != web
        wait_http_ok(f"{base}/api/v1/health", proc, log)
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}
        )
        assert token.status_code == 200
        me = httpx.get(
            f"{base}/api/v1/users/me",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        assert me.json()["username"] == "admin"
        wait_for(lambda: len(children_of(proc.pid)) >= 3, timeout=60, what="two web workers")
        _stop(proc, children_of(proc.pid))
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    text = log.read_text()
    assert "web was killed by SIGKILL; restarting it in 1 s" in text
    assert "Removed 1 orphan files (15 bytes) that no row names." in text
