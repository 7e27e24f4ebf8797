"""Run a few child processes together, restart the ones that crash, stop them together.

``curator serve`` runs the web server and a worker under this supervisor. One crashed
child must not take the others down: it is restarted after a growing pause, and only a
child that keeps crashing (``max_crashes`` within ``window`` seconds) makes the
supervisor give up and stop everything, so that an outer supervisor (systemd, Docker's
restart policy) sees the failure instead of a silent restart loop.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType

from app.process_tree import adopting_orphans, die_with_parent, kill_group, terminate

log = logging.getLogger("curator.serve")

GRACE_SECONDS = 15.0


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 1.0
    max_delay: float = 30.0
    max_crashes: int = 5  # within ``window`` seconds: then give up
    window: float = 60.0
    poll: float = 0.2  # how often children are checked

    def delay(self, streak: int) -> float:
        """The pause before restart number ``streak`` of an unbroken series of crashes."""
        return min(self.first_delay * 2.0 ** max(streak - 1, 0), self.max_delay)


@dataclass
class _Child:
    name: str
    cmd: list[str]
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    streak: int = 0  # crashes since the child last stayed up for a whole window
    crashes: deque[float] = field(default_factory=deque)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def supervise(
    commands: Mapping[str, Sequence[str]],
    env: Mapping[str, str] | None = None,
    *,
    policy: RestartPolicy | None = None,
    clock: Callable[[], float] = time.monotonic,
    stop: threading.Event | None = None,
) -> int:
    """Start every command and keep it running until SIGINT/SIGTERM (or ``stop``).

    Children run in their own sessions (and so process groups) so that a terminal's
    Ctrl-C reaches only us and each child gets exactly one SIGTERM: Celery treats a
    second signal as "cold shutdown". A group is also what lets us find and kill the
    grandchildren (uvicorn's and Celery's worker processes) of a child that crashed,
    which would otherwise keep the port or the queue.

    Returns 0 after a requested stop; after giving up, the crashing child's exit code
    (1 if it was killed by a signal or exited with 0).
    """
    policy = policy or RestartPolicy()
    stop = stop or threading.Event()
    child_env = dict(env) if env is not None else None
    children = [_Child(name, list(cmd)) for name, cmd in commands.items()]

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("Received %s, stopping.", signal.Signals(signum).name)
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    # Orphans of a crashed child come to us rather than to init, so none escapes the
    # stop and none stays a zombie when we are PID 1 in a container.
    with adopting_orphans():
        try:
            exit_code = _run(children, child_env, policy, clock, stop)
        finally:
            _stop_all(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return exit_code


def _run(
    children: Sequence[_Child],
    env: dict[str, str] | None,
    policy: RestartPolicy,
    clock: Callable[[], float],
    stop: threading.Event,
) -> int:
    for child in children:
        _start(child, env, clock())
    while not stop.wait(policy.poll):
        now = clock()
        for child in children:
            if child.proc is None:
                if child.restart_at is not None and now >= child.restart_at:
                    _start(child, env, now)
                continue
            code = child.proc.poll()
            if code is None:
                continue
            kill_group(child.proc.pid)  # what is left of it: its worker processes
            child.proc = None
            if not _schedule_restart(child, code, now, policy):
                return code if code > 0 else 1
    return 0


def _start(child: _Child, env: dict[str, str] | None, now: float) -> None:
    child.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        child.cmd,
        env=env,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    child.started_at = now
    child.restart_at = None
    log.info("Started %s (pid %d).", child.name, child.proc.pid)


def _schedule_restart(child: _Child, code: int, now: float, policy: RestartPolicy) -> bool:
    """Record the crash; False when the child crashed too often to try again."""
    if now - child.started_at >= policy.window:
        child.streak = 0  # it had been running fine: start the backoff over
    child.streak += 1
    child.crashes.append(now)
    while child.crashes and child.crashes[0] <= now - policy.window:
        child.crashes.popleft()
    what = describe_exit(code)
    if len(child.crashes) >= policy.max_crashes:
        log.error(
            "%s %s: %d crashes within %.0f s; giving up and stopping everything.",
            child.name,
            what,
            len(child.crashes),
            policy.window,
        )
        return False
    delay = policy.delay(child.streak)
    child.restart_at = now + delay
    log.warning(
        "%s %s; restarting it in %g s (crash %d of %d allowed within %.0f s).",
        child.name,
        what,
        delay,
        len(child.crashes),
        policy.max_crashes - 1,
        policy.window,
    )
    return True


def _stop_all(children: Sequence[_Child]) -> None:
    for child in children:
        if child.proc is not None:
            terminate(child.proc)
    for child in children:
        if child.proc is None:
            continue
        try:
            child.proc.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0f s; killing it.", child.name, GRACE_SECONDS)
        # Anything of its group still alive (a worker process its parent did not wait
        # for) goes too: Ctrl-C leaves no descendant behind.
        kill_group(child.proc.pid)
        child.proc.wait()
