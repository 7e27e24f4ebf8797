"""The grid after the trial (issue 14) in real Chromium against the real server: with 18
categories the first thumbnail is still in the first screen at 1280x800 and 390x844; the
categories' marks are 16 px, distinct in colour and shaped; and U takes back the last
bulk label as one step, each image back to the label it had."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Browser, Page, Playwright, expect

from tests.e2e.flows import log_in, unique
from tests.e2e.review_world import token_api
from tests.e2e.test_label_suggestion import _ok
from tests.images import corpus

pytestmark = pytest.mark.e2e

EXTRA = ("wine glass", "beer mug", "teacup", "tumbler", "goblet", "flute")
FOLDERS = tuple(f"species-{n:02d}" for n in range(12))  # 12 + 6 = 18 categories
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@dataclass
class Grid:
    pid: int
    labeled: list[int]  # one labeled image per folder category
    unlabeled: list[int]


@pytest.fixture(scope="module")
def grid(playwright: Playwright, base_url: str) -> Iterator[Grid]:
    api: APIRequestContext = token_api(playwright, base_url)
    try:
        pid = int(_ok(api.post("/api/v1/projects", data={"name": unique("Grid")}))["id"])
        _ok(api.patch(f"/api/v1/projects/{pid}", data={"auto_train_every": 0}))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for n, folder in enumerate(FOLDERS):
                archive.writestr(f"{folder}/a{n}.jpg", corpus.jpeg(seed=100 + n))
            for n in range(8):
                archive.writestr(f"new-{n}.jpg", corpus.jpeg(seed=300 + n))
        multipart: Any = {
            "files": {"name": "g.zip", "mimeType": "application/zip", "buffer": buffer.getvalue()},
            "labels_from_folders": "true",
        }
        body = _ok(api.post(f"/api/v1/projects/{pid}/images?mode=sync", multipart=multipart))
        assert body["errors"] == [], body
        for name in EXTRA:
            _ok(api.post(f"/api/v1/projects/{pid}/categories", data={"name": name}))
        items = _ok(api.get(f"/api/v1/projects/{pid}/images?limit=100"))["items"]
        labeled = sorted(i["id"] for i in items if i["category_id"] is not None)
        unlabeled = sorted(i["id"] for i in items if i["category_id"] is None)
        yield Grid(pid, labeled, unlabeled)
    finally:
        api.dispose()


def _open(browser: Browser, base_url: str, size: str) -> Page:
    context = browser.new_context(base_url=base_url, viewport=SIZES[size])  # type: ignore[arg-type]
    page = context.new_page()
    log_in(page)
    return page


@pytest.mark.parametrize("size", list(SIZES))
def test_the_first_thumbnail_is_in_the_first_screen(
    browser: Browser, base_url: str, grid: Grid, size: str
) -> None:
    page = _open(browser, base_url, size)
    page.goto(f"/projects/{grid.pid}/grid?status=all")
    expect(page.locator("[data-grid-screen]")).to_have_attribute("data-ready", "true")
    first = page.get_by_role("list", name="Images to select").get_by_role("button").first
    box = first.bounding_box()
    assert box is not None
    height = SIZES[size]["height"]
    # Whole, and high enough that the page reads as images first, not buttons first (the
    # trial's 18 buttons put it at y≈640 of 800).
    assert box["y"] + box["height"] <= height, box
    assert box["y"] <= 0.75 * height, box
    # Every category can still be chosen for the selection, by name.
    if size == "desktop":
        bar = page.get_by_role("list", name="Label the selection as")
        expect(bar.get_by_role("button")).to_have_count(18)
        expect(bar.get_by_role("button", name="Label selection as flute")).to_be_visible()
    else:
        picker = page.get_by_label("Category for the selection")
        expect(picker).to_be_visible()
        expect(picker.locator("option")).to_have_count(19)  # a prompt and 18 categories
    page.context.close()


def test_category_marks_are_big_distinct_and_shaped(
    browser: Browser, base_url: str, grid: Grid
) -> None:
    page = _open(browser, base_url, "desktop")
    page.goto(f"/projects/{grid.pid}/grid?status=all")
    marks = page.get_by_role("list", name="Label the selection as").locator("svg.swatch")
    expect(marks).to_have_count(18)
    found = marks.evaluate_all(
        """(svgs) => svgs.map((s) => ({
            fill: getComputedStyle(s.firstElementChild).fill,
            shape: s.dataset.shape,
            width: s.getBoundingClientRect().width,
        }))"""
    )
    assert len({m["fill"] for m in found}) == 18, found  # 18 sibling roots, 18 colours
    assert all(m["width"] >= 16 for m in found), found
    assert len({m["shape"] for m in found}) >= 6, found
    page.context.close()


def _status(page: Page, image_id: int) -> tuple[int | None, str]:
    image = _ok(page.request.get(f"/api/v1/images/{image_id}"))
    return image["category_id"], image["status"]


def test_u_undoes_the_last_bulk_label_as_one_step(
    browser: Browser, base_url: str, grid: Grid
) -> None:
    page = _open(browser, base_url, "desktop")
    chosen = [grid.labeled[0], grid.labeled[1], grid.unlabeled[0]]
    before = {i: _status(page, i) for i in chosen}
    page.goto(f"/projects/{grid.pid}/grid?status=all")
    expect(page.locator("[data-grid-screen]")).to_have_attribute("data-ready", "true")
    tiles = page.get_by_role("list", name="Images to select")
    for image_id in chosen:
        tiles.locator(f'[data-image-id="{image_id}"]').click()
    expect(page.locator("[data-selected-count]")).to_have_text("3")
    page.get_by_role("button", name="Label selection as flute").click()
    toast = page.locator("[data-toast]")
    expect(toast).to_contain_text("Labeled as flute: 3 images · U to undo")
    flute = {_status(page, i) for i in chosen}
    assert len(flute) == 1
    assert flute.pop()[1] == "labeled"
    page.keyboard.press("u")
    expect(toast).to_contain_text("Undone: 3 images have their previous labels back")
    assert {i: _status(page, i) for i in chosen} == before
    # One step: a second U has nothing left to take back, and changes nothing.
    page.keyboard.press("u")
    expect(page.locator("[data-error]")).to_contain_text("Nothing to undo")
    assert {i: _status(page, i) for i in chosen} == before
    page.context.close()
