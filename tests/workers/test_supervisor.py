"""The supervisor restarts crashed children with backoff and gives up on a crash loop.

These run ``supervise`` itself on short-lived real commands; test_supervisor_serve.py
does the same to `curator serve`'s real web server and worker.
"""

from __future__ import annotations

import itertools
import logging
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from app.supervisor import RestartPolicy, supervise
from tests.support.processes import wait_for
from tests.workers.proc_tree import alive


def _crasher(starts: Path, code: int = 3) -> list[str]:
    """A command that notes each start in ``starts`` and exits with ``code`` at once."""
    script = f"import sys; open({str(starts)!r}, 'a').write('x\\n'); sys.exit({code})"
    return [sys.executable, "-c", script]


def _sleeper(pids: Path) -> list[str]:
    """A command that notes its pid in ``pids`` and runs until it is stopped."""
    script = (
        f"import os, time; open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n'); time.sleep(600)"
    )
    return [sys.executable, "-c", script]


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _run_in_thread(target: Callable[[], int]) -> tuple[threading.Thread, list[int]]:
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(target()), daemon=True)
    thread.start()
    return thread, result


def _restart_delays(caplog: pytest.LogCaptureFixture, name: str) -> list[float]:
    pattern = re.compile(rf"^{name} exited with code 3; restarting it in ([0-9.]+) s")
    return [
        float(m.group(1))
        for r in caplog.records
        if (m := pattern.match(r.getMessage())) is not None
    ]


def test_the_default_backoff_doubles_from_one_second_up_to_thirty() -> None:
    policy = RestartPolicy()
    assert [policy.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert (policy.max_crashes, policy.window) == (5, 60)


def test_a_child_crashing_five_times_within_a_minute_stops_everything(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    starts = tmp_path / "starts"
    pids = tmp_path / "sleeper.pid"
    steady = _sleeper(pids)
    # The default minute and five crashes, with backoff scaled down to keep the test quick.
    policy = RestartPolicy(first_delay=0.05, max_delay=0.15, poll=0.02)
    caplog.set_level(logging.INFO, logger="curator.serve")
    code = supervise({"steady": steady, "crashy": _crasher(starts)}, policy=policy)
    assert code == 3  # the crashing child's own exit code, so the caller sees a failure
    assert _lines(starts) == 5  # the first start and four restarts, no sixth
    assert _restart_delays(caplog, "crashy") == [0.05, 0.1, 0.15, 0.15]  # doubling, capped
    assert any(
        "crashy exited with code 3: 5 crashes within 60 s; giving up" in r.getMessage()
        for r in caplog.records
    )
    # Giving up stops the healthy child too.
    assert not alive(int(pids.read_text()))


def test_a_child_crashing_less_often_is_restarted_again_and_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    starts = tmp_path / "starts"
    # Each look at the clock is 100 s later: every crash is far more than a minute after
    # the one before, as for a child that crashes once an hour.
    ticks = itertools.count(0, 100)
    stop = threading.Event()
    caplog.set_level(logging.INFO, logger="curator.serve")
    thread, result = _run_in_thread(
        lambda: supervise(
            {"hourly": _crasher(starts)},
            policy=RestartPolicy(poll=0.02),
            clock=lambda: float(next(ticks)),
            stop=stop,
        )
    )
    try:
        wait_for(lambda: _lines(starts) >= 8, timeout=60, what="eight starts")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert result == [0]  # stopped on request, never gave up
    delays = _restart_delays(caplog, "hourly")
    assert len(delays) >= 7
    # A child that ran for a whole window starts the backoff over: never 2, 4, 8 s.
    assert set(delays) == {1.0}


def test_the_worker_processes_of_a_crashed_child_are_killed_before_it_restarts(
    tmp_path: Path,
) -> None:
    grandchildren = tmp_path / "grandchildren"
    # Like uvicorn --workers or Celery's pool: a parent with worker processes of its
    # own, here one that dies (kill -9 would do the same) and leaves its worker behind.
    parent = (
        "import subprocess, sys, time\n"
        "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(grandchildren)!r}, 'a').write(f'{{g.pid}}\\n')\n"
        "time.sleep(0.3)\n"
        "sys.exit(3)\n"
    )
    stop = threading.Event()
    thread, result = _run_in_thread(
        lambda: supervise(
            {"parent": [sys.executable, "-c", parent]},
            policy=RestartPolicy(first_delay=0.05, poll=0.02),
            stop=stop,
        )
    )
    try:
        wait_for(lambda: _lines(grandchildren) >= 2, timeout=60, what="a restart")
        first = int(grandchildren.read_text().split()[0])
        # Gone by the time the second parent started.
        assert not alive(first)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert result == [0]
    workers = [int(pid) for pid in grandchildren.read_text().split()]
    wait_for(lambda: not any(map(alive, workers)), timeout=10, what="every worker to be gone")


def test_a_requested_stop_ends_every_child_and_returns_zero(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    stop = threading.Event()
    thread, result = _run_in_thread(
        lambda: supervise(
            {"a": _sleeper(pids), "b": _sleeper(pids)}, stop=stop, policy=RestartPolicy()
        )
    )
    try:
        wait_for(lambda: _lines(pids) == 2, timeout=30, what="both children to start")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert result == [0]
    assert not any(alive(int(pid)) for pid in pids.read_text().split())
