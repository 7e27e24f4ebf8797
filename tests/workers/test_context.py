"""One worker context, and with it one engine, per process: shared by every task of the
process, made anew in a process forked from one that had it (Celery's prefork pool)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from app.config import Settings
from tests.support.processes import REPO, curator_env

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import os

    from sqlalchemy import text

    from workers import tasks
    from workers.context import worker_context

    def users(ctx):
        with ctx.sessions() as session:
            return session.execute(text("SELECT count(*) FROM users")).scalar_one()

    ctx = worker_context()
    assert worker_context() is ctx, "a second context in one process"
    assert tasks._import_context().sessions is ctx.sessions, "imports have an engine of their own"
    before = users(ctx)

    pid = os.fork()
    if pid == 0:
        child = worker_context()
        fresh = child is not ctx and child.sessions.kw["bind"] is not ctx.sessions.kw["bind"]
        same = worker_context() is child
        os._exit(0 if fresh and same and users(child) == before else 3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the forked process reused the parent's engine"
    assert worker_context() is ctx and users(ctx) == before, "the parent lost its context"
    print("one context per process")
    """
)


def test_one_context_per_process_and_a_new_one_after_a_fork(settings: Settings) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=curator_env(settings.data_dir),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "one context per process" in result.stdout
