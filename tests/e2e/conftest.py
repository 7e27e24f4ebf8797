"""End-to-end fixtures: one real `curator serve` per session, driven by Debian's Chromium.

Playwright cannot download its own browsers here, so the tests launch the system
Chromium (``apt-get install chromium``). Without it they skip, or fail under CI=true.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.env import require
from tests.support.processes import curator_cmd, curator_env, free_port, running, wait_http_ok

ADMIN_PASSWORD = "e2e-admin-password"

# A name that is not loopback but resolves to the live server, inside Chromium only:
# some front-end code (Swagger UI's validator badge, for one) stays quiet on
# localhost/127.0.0.1 and phones home anywhere else, as it would in production.
PUBLIC_HOST = "curator.test"

# Chromium's own background traffic (component updates, sync, safe browsing) would
# otherwise hit the network, which is refused here and noisy in the logs.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    f"--host-resolver-rules=MAP {PUBLIC_HOST} 127.0.0.1",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is an e2e test, so `-m "not e2e"` leaves them all out."""
    for item in items:
        if "tests/e2e/" in item.nodeid:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real `curator serve` (web + one worker) on a fresh data dir; yields its base URL."""
    root = tmp_path_factory.mktemp("live")
    port = free_port()
    env = curator_env(root / "data", CURATOR_ADMIN_PASSWORD=ADMIN_PASSWORD)
    log_path = root / "serve.log"
    cmd = curator_cmd("serve", "--host", "127.0.0.1", "--port", str(port))
    with running(cmd, env, log_path) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{base}/api/v1/health", proc, log_path)
        yield base


@pytest.fixture(scope="session")
def base_url(live_server: str) -> str:
    """pytest-playwright gives every context this base URL, so tests can goto("/login")."""
    return live_server


@pytest.fixture(scope="session")
def public_base_url(live_server: str) -> str:
    """The live server under a non-loopback host name (see PUBLIC_HOST)."""
    return live_server.replace("127.0.0.1", PUBLIC_HOST, 1)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    chromium = shutil.which("chromium")
    require(chromium, "Chromium is not installed: apt-get install chromium")
    return {**browser_type_launch_args, "executable_path": chromium, "args": CHROMIUM_ARGS}
