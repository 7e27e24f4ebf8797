"""Skip-or-fail for tests that need something from outside Python.

Outside CI a missing tool (Chromium, redis-server, a PostgreSQL server) skips the test
with the reason; under CI (CI=true) the same situation fails, because there it must run.
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: object, reason: str) -> None:
    if condition:
        return
    if IN_CI:
        pytest.fail(f"Required under CI: {reason}")
    pytest.skip(reason)
