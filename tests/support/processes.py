"""Real processes for tests: free ports, waiting on conditions, `curator` subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> object:
    """Poll until ``condition()`` is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except Exception as exc:  # the thing may not be up yet
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(f"Timed out after {timeout}s waiting for {what or condition}: {last_error}")


def curator_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURATOR_")}
    env.update({"CURATOR_DATA_DIR": str(data_dir), "CURATOR_ENV": "test", **extra})
    return env


def curator_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", *args]


@contextmanager
def running(
    cmd: list[str], env: Mapping[str, str], log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``cmd`` for the duration of the block, then stop it (and its children)."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd,
            env=dict(env),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def wait_http_ok(
    url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 60
) -> None:
    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{log_path.read_text()}")
        return httpx.get(url, timeout=2).status_code == 200

    try:
        wait_for(up, timeout=timeout, what=url)
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}\n--- log ---\n{log_path.read_text()}") from None
