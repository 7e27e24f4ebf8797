"""Linux process-tree tools for the supervisor: groups, orphans, death of the parent.

Each helper degrades to doing nothing where the platform lacks the call, so that
``curator serve`` still runs (without these guarantees) off Linux.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    return int(libc.prctl(option, value, 0, 0, 0)) == 0


def die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the supervisor itself is killed.

    Without it a ``kill -9`` of ``curator serve`` would leave an orphaned worker
    holding the queue.
    """
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _is_subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    flag = ctypes.c_int(0)
    libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0)
    return bool(flag.value)


@contextmanager
def adopting_orphans() -> Iterator[None]:
    """Within the block, orphaned descendants become our children instead of init's.

    So a worker process whose parent was killed stays ours to stop and to reap; the
    previous setting comes back afterwards (it matters when a test calls supervise).
    """
    was = _is_subreaper()
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    try:
        yield
    finally:
        if not was:
            _prctl(_PR_SET_CHILD_SUBREAPER, 0)


def terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)


def _group(pgid: int) -> list[tuple[int, int, str]]:
    """(pid, parent pid, state) of every process in the group, from /proc."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                # The command name may hold spaces and parentheses; the fields after
                # its last ")" do not.
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            members.append((int(entry.name), int(fields[1]), fields[0].decode()))
    return members


def kill_group(pgid: int, timeout: float = 5.0) -> None:
    """SIGKILL whatever is left of a child's process group and wait until it is gone.

    The group's leader is the child itself, left for its Popen to reap. Members that
    were orphaned and adopted by us are reaped here. A group id stays reserved while
    any member lives, so it cannot name a stranger's group after the leader was reaped.
    """
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    me = os.getpid()
    deadline = time.monotonic() + timeout
    while True:
        waiting = False
        for pid, parent, state in _group(pgid):
            if pid == pgid:
                continue
            if state != "Z":
                waiting = True
            elif parent == me:
                with suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
        if not waiting or time.monotonic() > deadline:
            return
        time.sleep(0.05)
