"""Real Chromium against a real `curator serve` whose files live in a bucket (moto's S3
server) with presigned redirects on: the labeling screen and the gallery show the
pictures straight from the store, the page's policy lets in that one origin and the
browser reports no violation, and a label given with the keyboard is saved."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ADMIN_PASSWORD
from tests.e2e.flows import log_in
from tests.e2e.test_csp import RECORD_VIOLATIONS
from tests.support.datasets import FLOWERS12
from tests.support.env import require
from tests.support.processes import curator_cmd, curator_env, free_port, running, wait_http_ok
from tests.support.s3 import S3Server, s3

__all__ = ["s3"]  # the fixture, imported for this module
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PHOTOS = 3
SAVE_TIMEOUT_S = 30.0

ALL_SHOWN = """(selector) => {
  const imgs = [...document.querySelectorAll(selector)];
  return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
}"""


@pytest.fixture
def bucket_server(s3: S3Server, tmp_path: Path) -> Iterator[str]:
    env = {
        **curator_env(tmp_path / "data", CURATOR_ADMIN_PASSWORD=ADMIN_PASSWORD),
        **s3.env,
        "CURATOR_STORAGE_REDIRECT": "true",
    }
    port = free_port()
    log = tmp_path / "serve.log"
    # No worker: nothing here needs one, and the pictures must come from the bucket alone.
    with running(curator_cmd("serve", "--port", str(port), "--no-worker"), env, log) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{base}/api/v1/health", proc, log)
        yield base


def _project_with_photos(base: str) -> tuple[httpx.Client, int]:
    photos = sorted((FLOWERS12 / "train" / "daisy").glob("*.jpg"))[:PHOTOS]
    require(len(photos) == PHOTOS, f"flowers12 is not at {FLOWERS12}")
    token = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}
    ).json()["access_token"]
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    pid = int(api.post("/api/v1/projects", json={"name": "From a bucket"}).json()["id"])
    for name, key in (("daisy", "1"), ("tulip", "2")):
        made = api.post(f"/api/v1/projects/{pid}/categories", json={"name": name, "shortcut": key})
        assert made.status_code == 201, made.text
    files = [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in photos]
    sent = api.post(f"/api/v1/projects/{pid}/images?mode=sync", files=files)
    assert sent.status_code in (200, 201), sent.text
    return api, pid


def _labeled(api: httpx.Client, pid: int) -> int:
    page = api.get(f"/api/v1/projects/{pid}/images", params={"status": "labeled"})
    return int(page.json()["total"])


def test_pictures_come_from_the_bucket_under_the_policy(
    browser: Browser, bucket_server: str, s3: S3Server
) -> None:
    api, pid = _project_with_photos(bucket_server)
    assert len(s3.stored_keys("images/")) == PHOTOS
    context = browser.new_context(base_url=bucket_server)
    try:
        page: Page = context.new_page()
        page.add_init_script(RECORD_VIOLATIONS)
        from_store: list[str] = []
        page.on(
            "response",
            lambda r: from_store.append(r.url) if r.url.startswith(s3.endpoint) and r.ok else None,
        )
        log_in(page)

        screen = page.goto(f"/projects/{pid}/label")
        assert screen is not None
        policy = screen.headers["content-security-policy"]
        img_src = next(d for d in policy.split(";") if d.strip().startswith("img-src"))
        assert s3.endpoint in img_src.split()
        assert s3.endpoint not in policy.replace(img_src, "")  # that directive only
        expect(page.locator("[data-image] img")).to_be_visible()
        page.wait_for_function(ALL_SHOWN, arg="[data-image] img")
        assert from_store, "the labeling screen's picture did not come from the bucket"

        page.keyboard.press("1")
        deadline = time.monotonic() + SAVE_TIMEOUT_S
        while _labeled(api, pid) < 1:
            assert time.monotonic() < deadline, "the keyboard's label was not saved"
            time.sleep(0.2)

        from_store.clear()
        page.goto(f"/projects/{pid}/images")
        page.wait_for_function(ALL_SHOWN, arg="img[src*='/thumbnail']")
        assert len(from_store) >= PHOTOS, from_store
        assert page.evaluate("window.__csp.splice(0)") == []
    finally:
        context.close()
        api.close()
