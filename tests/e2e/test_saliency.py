""" "Where the model looked" in real Chromium, against the real server and its worker:
18 flower photos labeled by folder, a linear run, then the toggle in the confusion cell's
drill-down and on the image page lays the worker's saliency maps over the pictures."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.flows import create_project, log_in, unique
from tests.e2e.test_training import FLOWERS, PER_SPECIES, SPECIES, flowers_zip
from tests.support.env import require

pytestmark = pytest.mark.e2e
RUN_TIMEOUT = 300.0  # seconds: the backbone loads and embeds on a 2-core CPU
MAP_TIMEOUT_MS = 120_000  # the worker's first map rebuilds the run's model


def _csrf(page: Page) -> str:
    return page.locator('meta[name="csrf-token"]').get_attribute("content") or ""


def _train(page: Page, pid: int) -> int:
    resp = page.request.post(
        f"/api/v1/projects/{pid}/training-runs",
        data={"mode": "linear"},
        headers={"X-CSRF-Token": _csrf(page)},
    )
    assert resp.ok, resp.text()
    rid = int(resp.json()["id"])
    deadline = time.monotonic() + RUN_TIMEOUT
    while (run := page.request.get(f"/api/v1/training-runs/{rid}").json())["status"] in {
        "queued",
        "running",
    }:
        assert time.monotonic() < deadline, f"run {rid} still {run['status']}"
        page.wait_for_timeout(500)
    assert run["status"] == "succeeded", run["error"]
    return rid


def test_the_toggle_overlays_the_maps_in_the_cell_and_on_the_image_page(page: Page) -> None:
    require(FLOWERS.is_dir(), f"The flowers12 dataset is missing: {FLOWERS}")
    log_in(page)
    create_project(page, unique("Saliency"))
    pid = int(re.search(r"/projects/(\d+)$", page.url).group(1))  # type: ignore[union-attr]
    # Through the API: the upload's own UI has its e2e tests (test_images.py).
    upload = page.request.post(
        f"/api/v1/projects/{pid}/images",
        multipart={
            "files": {"name": "flowers.zip", "mimeType": "application/zip",
                      "buffer": flowers_zip()},
            "labels_from_folders": "true",
        },
        headers={"X-CSRF-Token": _csrf(page)},
    )  # fmt: skip
    assert upload.ok, upload.text()
    assert len(upload.json()["imported"]) == len(SPECIES) * PER_SPECIES
    rid = _train(page, pid)

    page.goto(f"/projects/{pid}/runs/{rid}")
    matrix = page.get_by_role("table", name=re.compile("Confusion matrix"))
    matrix.get_by_role("link", name=re.compile(r"^\d+ labeled daisy, predicted daisy$")).click()
    cell = page.get_by_role("region", name=re.compile("Labeled daisy, predicted daisy"))
    pictures = cell.get_by_role("list", name="Images labeled daisy and predicted daisy")
    expect(pictures.get_by_role("img").first).to_be_visible()
    originals = [i.get_attribute("src") for i in pictures.get_by_role("img").all()]
    assert all(s and s.endswith("/thumbnail") for s in originals), originals

    toggle = cell.get_by_role("button", name="Where the model looked")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(cell.get_by_role("status")).to_contain_text("Warmer colours", timeout=MAP_TIMEOUT_MS)
    for img in pictures.get_by_role("img").all():
        expect(img).to_have_attribute("src", re.compile(r"^data:image/jpeg;base64,"))
        assert img.evaluate("i => i.naturalWidth") > 0
    toggle.click()  # off: the thumbnails as they were
    expect(toggle).to_have_attribute("aria-pressed", "false")
    shown = [i.get_attribute("src") for i in pictures.get_by_role("img").all()]
    assert shown == originals

    # The image page: the same toggle over the full picture, for the run's predicted class.
    pictures.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/images/\d+$"))
    viewer = page.get_by_role("figure")
    photo = viewer.get_by_role("img").first
    original = photo.get_attribute("src")
    assert original is not None
    assert original.endswith("/display")
    looked = viewer.get_by_role("button", name="Where the model looked")
    looked.click()
    expect(viewer.get_by_role("status")).to_contain_text("Warmer colours", timeout=MAP_TIMEOUT_MS)
    expect(photo).to_have_attribute("src", re.compile(r"^data:image/jpeg;base64,"))
    size = photo.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert size == [224, 224]  # drawn at the photo's own size, the map stretched over it
    looked.click()
    expect(photo).to_have_attribute("src", original)
