"""`curator serve`: first start, web + worker together, and a clean stop on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import httpx2 as httpx
import pytest

from app.broker import make_celery
from app.config import Settings
from app.task_names import PING
from tests.support.processes import (
    REPO,
    curator_cmd,
    curator_env,
    free_port,
    wait_for,
    wait_http_ok,
)
from tests.workers.proc_tree import alive, children_of

pytestmark = pytest.mark.slow


def test_serve_runs_web_and_worker_and_stops_both_on_ctrl_c(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    log = tmp_path / "serve.log"
    env = curator_env(data)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            curator_cmd("serve", "--port", str(port)),
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/api/v1/health", proc, log)
        first_start = log.read_text()
        match = re.search(r"Created user admin with password (\S+)", first_start)
        assert match, first_start
        password = match.group(1)
        # The printed password really logs in.
        token = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/token",
            data={"username": "admin", "password": password},
        )
        assert token.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/login").status_code == 200
        # The worker child answers through the default filesystem broker.
        reply = make_celery(Settings(data_dir=data)).send_task(PING, queue="ml").get(timeout=90)
        assert reply["reply"] == "pong"
        family = children_of(proc.pid)
        assert len(family) >= 2  # uvicorn, the Celery worker and its pool child
        assert reply["pid"] in family
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert proc.wait(timeout=60) == 0
        wait_for(lambda: not any(alive(p) for p in family), timeout=30, what="children to exit")
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    assert "Received SIGINT, stopping." in log.read_text()


def test_second_start_does_not_recreate_admin_or_print_a_password(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = curator_env(data, CURATOR_ADMIN_PASSWORD="chosen-by-operator")
    for expected in ("with the password from CURATOR_ADMIN_PASSWORD", None):
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                curator_cmd("serve", "--port", str(port), "--no-worker"),
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_http_ok(f"http://127.0.0.1:{port}/api/v1/health", proc, log)
            ok = httpx.post(
                f"http://127.0.0.1:{port}/api/v1/auth/token",
                data={"username": "admin", "password": "chosen-by-operator"},
            )
            assert ok.status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        text = log.read_text()
        if expected:
            assert expected in text
        else:
            assert "Created user admin" not in text
        assert "chosen-by-operator" not in text  # never echo a given secret


def test_two_web_workers_share_the_logins_and_stop_together(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    log = tmp_path / "serve.log"
    env = curator_env(data, CURATOR_ADMIN_PASSWORD="chosen-by-operator")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            curator_cmd("serve", "--port", str(port), "--no-worker", "--web-workers", "2"),
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{base}/api/v1/health", proc, log)
        # uvicorn's supervisor and its two worker processes (under `curator serve`).
        wait_for(lambda: len(children_of(proc.pid)) >= 3, timeout=60, what="two web workers")
        family = children_of(proc.pid)
        token = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"username": "admin", "password": "chosen-by-operator"},
        ).json()["access_token"]
        # New connections land on either process; every one accepts the token, because
        # tokens live in the database and the secret key in the data dir.
        for _ in range(20):
            with httpx.Client(base_url=base) as client:
                me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
                assert me.status_code == 200, me.text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        wait_for(lambda: not any(alive(p) for p in family), timeout=30, what="workers to exit")
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)


def test_the_web_command_asks_uvicorn_for_the_workers() -> None:
    from app.cli.serve import web_command

    command = web_command("127.0.0.1", 9000, 3)
    assert command[command.index("--workers") + 1] == "3"
    assert command[command.index("--port") + 1] == "9000"
