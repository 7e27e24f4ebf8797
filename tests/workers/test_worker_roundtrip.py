"""A real `curator worker` process answers the ping task, on both brokers and queues."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from app.broker import make_celery
from app.config import Settings
from app.task_names import PING, QUEUES
from tests.support.processes import curator_cmd, curator_env, running

pytestmark = pytest.mark.slow


def roundtrip(settings: Settings, tmp_path: Path, env: dict[str, str]) -> None:
    producer = make_celery(settings)
    log = tmp_path / "worker.log"
    with running(curator_cmd("worker", "--loglevel", "INFO"), env, log) as proc:
        for queue in QUEUES:
            result = producer.send_task(PING, args=[f"hello {queue}"], queue=queue)
            try:
                reply = result.get(timeout=90)
            except Exception as exc:
                raise AssertionError(f"no reply on {queue}: {exc}\n{log.read_text()}") from exc
            assert reply["reply"] == "pong"
            assert reply["payload"] == f"hello {queue}"
            # Answered by another process, not computed in ours.
            assert reply["pid"] != os.getpid()
            assert proc.poll() is None
        # The container healthcheck pings this host's worker over the control channel.
        check = subprocess.run(
            curator_cmd("healthcheck", "worker"), env=env, capture_output=True, timeout=60
        )
        assert check.returncode == 0, check.stdout + check.stderr
        log_text = log.read_text()
    assert "curator-ingest-ml@" in log_text
    assert proc.returncode is not None
    stopped = subprocess.run(
        curator_cmd("healthcheck", "worker", "--timeout", "1"),
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert stopped.returncode == 1


def test_ping_round_trip_on_the_filesystem_broker(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data, env="test")
    roundtrip(settings, tmp_path, curator_env(data))
    assert (data / "broker" / "queue").is_dir()


def test_ping_round_trip_on_redis(tmp_path: Path, redis_url: str) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data, env="test", broker_url=redis_url)
    roundtrip(settings, tmp_path, curator_env(data, CURATOR_BROKER_URL=redis_url))
    assert not (data / "broker" / "queue").exists()


def test_worker_refuses_unknown_queues(tmp_path: Path) -> None:
    result = subprocess.run(
        curator_cmd("worker", "--queues", "ingest,gpu-please"),
        env=curator_env(tmp_path),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "gpu-please" in result.stderr.decode()
