"""Issue 14: what ranks the queue is worded one way, with the strategy and the run, on the
labeling screen's header, the project's overview and its training section. In the trial
the header said "ranked by default", the dashboard "cluster_margin from run #5", and after
a switch to margin the project page showed two conflicting "Queue ranked by" lines."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from PIL import Image as PILImage
from playwright.sync_api import Page, Playwright, expect

from tests.e2e.flows import log_in, open_tab, unique
from tests.e2e.review_world import token_api
from tests.images import corpus

pytestmark = pytest.mark.e2e


def _ok(response: Any) -> Any:
    assert response.ok, f"{response.status} {response.text()}"
    return response.json()


def _scored(page: Page, pid: int, strategy: str) -> str:
    """Waits until the overview names a ranking made by ``strategy``; returns its words."""
    deadline = time.monotonic() + 120
    while True:
        page.goto(f"/projects/{pid}")
        words = page.get_by_role("paragraph").filter(has_text="Queue ranked by")
        text = (words.first.text_content() or "") if words.count() else ""
        if strategy in text and "not ranked yet" not in text:
            return re.sub(r"\s+", " ", text).strip().removeprefix("Queue ranked by ").strip()
        assert time.monotonic() < deadline, f"not ranked by {strategy}: {text!r}"
        time.sleep(1)


def _header(page: Page, pid: int) -> str:
    page.goto(f"/projects/{pid}/label?strategy=active")
    expect(page.get_by_role("figure", name="Image to label").get_by_role("img")).to_be_visible()
    header = page.get_by_title("Queue mode and strategy")
    expect(header).to_contain_text("ranked by")
    return header.text_content() or ""


def test_one_wording_for_what_ranks_the_queue_everywhere(
    page: Page, playwright: Playwright, base_url: str
) -> None:
    api = token_api(playwright, base_url)
    try:
        pid = int(_ok(api.post("/api/v1/projects", data={"name": unique("Wording")}))["id"])
        _ok(api.post(f"/api/v1/projects/{pid}/categories", data={"name": "cat"}))
        for n in range(8):
            picture = PILImage.new("RGB", (32, 32), (30 * n, 90, 250 - 30 * n))
            files = {
                "name": f"p{n}.png",
                "mimeType": "image/png",
                "buffer": corpus.encode(picture, "PNG"),
            }
            _ok(api.post(f"/api/v1/projects/{pid}/images?mode=sync", multipart={"files": files}))
        log_in(page)
        first = _scored(page, pid, "default")
        assert _header(page, pid) == f"label · active · ranked by {first}"

        # The project switches to margin: every page names margin, and only margin.
        _ok(api.patch(f"/api/v1/projects/{pid}", data={"default_strategy": "margin"}))
        # A labeler asking for margin has it scored (before any model it runs as kmeans).
        page.goto(f"/projects/{pid}/label?strategy=active&ranking=margin")
        expect(page.get_by_role("figure", name="Image to label").get_by_role("img")).to_be_visible()
        second = _scored(page, pid, "margin")
        assert second.startswith("margin"), second
        assert _header(page, pid) == f"label · active · ranked by {second}"
        page.goto(f"/projects/{pid}")
        open_tab(page, "Training")
        lines = page.get_by_role("paragraph").filter(has_text="Queue ranked by")
        expect(lines).to_have_count(1)  # in the training section: no second, older line
        expect(lines).to_have_text(re.compile(rf"^\s*Queue ranked by {re.escape(second)}"))
    finally:
        api.dispose()
