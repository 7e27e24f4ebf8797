"""Run a few child processes together and stop them together (``curator serve``)."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from types import FrameType

log = logging.getLogger("curator.serve")

GRACE_SECONDS = 15.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the supervisor itself is killed.

    Without it a ``kill -9`` of ``curator serve`` would leave an orphaned worker
    holding the queue.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def supervise(commands: Mapping[str, Sequence[str]], env: Mapping[str, str] | None = None) -> int:
    """Start every command; when one exits or we get SIGINT/SIGTERM, stop them all.

    Children run in their own sessions so a terminal's Ctrl-C reaches only us and each
    child gets exactly one SIGTERM: Celery treats a second signal as "cold shutdown".
    Returns 0 after a requested stop, else the exit code of the child that died.
    """
    stop = threading.Event()
    exit_code = 0

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("Received %s, stopping.", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, cmd in commands.items():
            procs[name] = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                list(cmd),
                env=dict(env) if env is not None else None,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            log.info("Started %s (pid %d).", name, procs[name].pid)
        while not stop.wait(0.2):
            for name, proc in procs.items():
                code = proc.poll()
                if code is not None:
                    log.error("%s exited with code %s; stopping the others.", name, code)
                    exit_code = code or 1
                    stop.set()
                    break
    finally:
        _stop_all(procs)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return exit_code


def _stop_all(procs: Mapping[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for name, proc in procs.items():
        try:
            proc.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0f s; killing it.", name, GRACE_SECONDS)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
