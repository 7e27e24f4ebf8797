"""The image page's keys in real Chromium: opened from a filtered gallery, the arrow keys
walk that list, a category's key labels and opens the next image, R rejects with a reason,
+ shows the picture full screen. Each decision is read back through the API."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.flows import create_project, log_in, unique
from tests.e2e.test_images import drop, summary
from tests.images import corpus

pytestmark = pytest.mark.e2e


def _api(page: Page, method: str, url: str, data: object = None) -> object:
    token = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    resp = page.request.fetch(url, method=method, data=data, headers={"X-CSRF-Token": token})
    assert resp.ok, f"{resp.status} {resp.text()}"
    return resp.json()


def test_keys_walk_the_list_label_reject_and_zoom(page: Page) -> None:
    log_in(page)
    create_project(page, unique("Image keys"))
    pid = int(re.search(r"/projects/(\d+)$", page.url).group(1))  # type: ignore[union-attr]
    drop(page, [(f"k{i}.jpg", corpus.jpeg(seed=300 + i)) for i in range(4)])
    expect(summary(page)).to_contain_text("4 imported, 0 duplicates, 0 errors.")
    wine = _api(page, "POST", f"/api/v1/projects/{pid}/categories",
                {"name": "wine", "shortcut": "w"})  # fmt: skip
    _api(page, "POST", f"/api/v1/projects/{pid}/categories", {"name": "mug", "shortcut": "m"})
    listed = _api(page, "GET", f"/api/v1/projects/{pid}/images?limit=10")
    ids = sorted(i["id"] for i in listed["items"])  # type: ignore[index]

    page.goto(f"/projects/{pid}/images?status=unlabeled&sort=oldest")
    page.get_by_role("list", name="Images").get_by_role("link").first.click()
    where = page.get_by_role("navigation", name="This list")
    expect(page).to_have_url(re.compile(rf"/images/{ids[0]}\?list="))
    expect(where).to_contain_text("Image 1 of 4")
    page.keyboard.press("ArrowRight")
    expect(page).to_have_url(re.compile(rf"/images/{ids[1]}\?list="))
    expect(where).to_contain_text("Image 2 of 4")

    # W labels this image "wine" and opens the next one of the list.
    page.keyboard.press("w")
    expect(page).to_have_url(re.compile(rf"/images/{ids[2]}\?list="))
    image = _api(page, "GET", f"/api/v1/images/{ids[1]}")
    assert (image["status"], image["category_id"]) == ("labeled", wine["id"])  # type: ignore[index]
    # The labeled image left the unlabeled list: back goes to the first.
    expect(where).to_contain_text("Image 2 of 3")
    page.keyboard.press("ArrowLeft")
    expect(page).to_have_url(re.compile(rf"/images/{ids[0]}\?list="))

    # R opens the reason picker; 1 is "out of scope".
    page.keyboard.press("r")
    picker = page.get_by_role("dialog", name="Reject: why?")
    expect(picker).to_be_visible()
    page.keyboard.press("1")
    expect(page).to_have_url(re.compile(rf"/images/{ids[2]}\?list="))
    history = _api(page, "GET", f"/api/v1/images/{ids[0]}/annotations")
    assert [(a["rejected"], a["reason"]) for a in history] == [(True, "out of scope")]  # type: ignore[attr-defined,index]

    # + shows the picture full screen; Esc closes it; the keys are the page's again.
    page.keyboard.press("+")
    lightbox = page.get_by_role("dialog", name=re.compile("full screen"))
    expect(lightbox).to_be_visible()
    expect(lightbox.get_by_role("img")).to_have_js_property("complete", True)
    assert lightbox.get_by_role("img").evaluate("img => img.naturalWidth") > 0
    page.keyboard.press("Escape")
    expect(lightbox).to_be_hidden()
    expect(where).to_contain_text("Image 1 of 2")
    page.keyboard.press("ArrowRight")
    expect(page).to_have_url(re.compile(rf"/images/{ids[3]}\?list="))
    expect(where).to_contain_text("Image 2 of 2")
    expect(where.get_by_role("link", name=re.compile("Next"))).to_have_count(0)
