"""The labeling screen and the grid in real Chromium, against the real labeling API:
a two-level taxonomy, 17 images, ten labels by keyboard only, a rejection with a reason,
an undo, five labels at once in the grid, and the counts checked through the API."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.flows import add_category, create_project, log_in, open_taxonomy, unique
from tests.e2e.test_images import drop, summary
from tests.e2e.test_layout import VIEWPORTS, check_and_shoot
from tests.images import corpus

pytestmark = pytest.mark.e2e

IMAGES = 17


def total(page: Page, pid: int, **params: object) -> int:
    query = "&".join(f"{k}={v}" for k, v in {**params, "limit": 1}.items())
    resp = page.request.get(f"/api/v1/projects/{pid}/images?{query}")
    assert resp.ok, resp.text()
    return int(resp.json()["total"])


def category_ids(page: Page, pid: int) -> dict[str, int]:
    resp = page.request.get(f"/api/v1/projects/{pid}/categories")
    assert resp.ok, resp.text()
    return {c["path"]: c["id"] for c in resp.json()}


def test_label_by_keyboard_reject_undo_then_label_five_in_the_grid(
    page: Page, browser: Browser, base_url: str
) -> None:
    shots_dir = Path(os.environ.get("CURATOR_E2E_SHOTS", Path(tempfile.gettempdir()) / "e2e-shots"))
    shots_dir.mkdir(parents=True, exist_ok=True)
    project = unique("Labeling")
    log_in(page)
    create_project(page, project)
    pid = int(re.search(r"/projects/(\d+)$", page.url).group(1))  # type: ignore[union-attr]
    drop(page, [(f"img{i:02d}.jpg", corpus.jpeg(seed=100 + i)) for i in range(IMAGES)])
    expect(summary(page)).to_contain_text(f"{IMAGES} imported, 0 duplicates, 0 errors.")

    page.goto(f"/projects/{pid}")
    open_taxonomy(page, project)
    add_category(page, "glass", description="Anything **made of glass**.")
    add_category(page, "wine glass", parent="glass", shortcut="w", description="A stem, a bowl.")
    add_category(page, "beer glass", parent="glass", shortcut="b")
    add_category(page, "mug", shortcut="m")
    ids = category_ids(page, pid)
    # One positive example for the guide (pinned through the API, with the page's token).
    token = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    first = page.request.get(f"/api/v1/projects/{pid}/images?limit=1").json()["items"][0]
    pinned = page.request.post(
        f"/api/v1/categories/{ids['glass']}/examples",
        data={"image_id": first["id"], "kind": "positive"},
        headers={"X-CSRF-Token": token},
    )
    assert pinned.ok, pinned.text()

    page.goto(f"/projects/{pid}")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Label").click()
    expect(page).to_have_url(re.compile(rf"/projects/{pid}/label$"))
    # "· ranked by ..." follows once the worker has ranked the new images (cold start).
    expect(page.locator("[data-queue-label]")).to_have_text(re.compile(r"^label · active"))
    choices = page.get_by_role("region", name="Categories")
    expect(choices.get_by_role("button", name=re.compile("glass"))).to_have_count(1)  # top level
    expect(choices.get_by_role("button", name=re.compile("mug"))).to_be_visible()
    image = page.get_by_role("figure", name="Image to label").get_by_role("img")
    counter = page.get_by_label("Session counter")
    toast = page.get_by_role("status").filter(has_text="U to undo")

    done = 0

    def decide(*keys: str, says: str) -> str:
        """Press the keys on the image now shown; returns its filename."""
        nonlocal done
        expect(image).to_be_visible()
        name = image.get_attribute("alt") or ""
        assert name.startswith("img")
        for key in keys:
            page.keyboard.press(key)
        done += 1
        expect(counter).to_contain_text(f"{done} done")
        expect(toast).to_contain_text(says)
        expect(image).not_to_have_attribute("alt", name)
        return name

    for key, path in [("w", "glass/wine glass")] * 3 + [("b", "glass/beer glass")] * 2:
        decide(key, says=f"labeled {path} · U to undo")
    decide("m", says="labeled mug")
    decide("m", says="labeled mug")
    # A parent's key opens its children; Enter then labels the parent itself.
    expect(image).to_be_visible()
    page.keyboard.press("1")
    expect(page.get_by_role("navigation", name="Tree position")).to_contain_text("glass")
    expect(choices.get_by_role("button", name=re.compile("wine glass"))).to_be_visible()
    expect(choices.get_by_role("button", name=re.compile("mug"))).to_be_hidden()
    decide("Enter", says="labeled glass · U to undo")
    decide("w", says="labeled glass/wine glass")  # 9 labels

    # Reject with a reason: R, then the reason's key.
    expect(image).to_be_visible()
    page.keyboard.press("r")
    picker = page.get_by_role("dialog", name="Reject: why?")
    expect(picker).to_be_visible()
    expect(picker.get_by_role("button", name=re.compile("out of scope"))).to_be_visible()
    decide("1", says="rejected: out of scope")
    expect(picker).to_be_hidden()

    decide("b", says="labeled glass/beer glass")  # 10 labels
    undone = decide("w", says="labeled glass/wine glass")  # 11, then undone
    page.keyboard.press("u")
    done -= 1
    expect(counter).to_contain_text(f"{done} done")
    expect(image).to_have_attribute("alt", undone)  # the undone image is back on screen
    expect(page.get_by_role("status").filter(has_text="undone")).to_be_visible()

    # G shows the guide of the opened category: its guideline and its examples.
    page.keyboard.press("g")
    guide = page.get_by_role("complementary", name=re.compile("^Guide"))
    expect(guide).to_be_visible()
    page.keyboard.press("1")
    expect(guide.get_by_role("heading", level=2)).to_have_text("Guide: glass")
    expect(guide.get_by_role("strong")).to_have_text("made of glass")
    expect(guide.get_by_role("list", name="Positive examples").get_by_role("img")).to_have_count(1)
    page.keyboard.press("Escape")  # back up to the top level
    expect(choices.get_by_role("button", name=re.compile("mug"))).to_be_visible()
    page.keyboard.press("g")
    expect(guide).to_be_hidden()

    # The help lists every key; Escape closes it.
    page.keyboard.press("?")
    keys = page.get_by_role("dialog", name="Keys")
    for text in ("skip", "undo the last decision", "search the categories", "the guide"):
        expect(keys).to_contain_text(text)
    page.keyboard.press("Escape")
    expect(keys).to_be_hidden()
    check_and_shoot(page, shots_dir, "label-desktop")

    # The server agrees (the undo went out after every label, and has answered).
    assert total(page, pid, status="labeled") == 10
    assert total(page, pid, status="rejected") == 1
    assert total(page, pid, status="unlabeled") == IMAGES - 11
    assert total(page, pid, status="labeled", category_id=ids["glass/wine glass"]) == 4
    assert total(page, pid, status="labeled", category_id=ids["glass/beer glass"]) == 3
    assert total(page, pid, status="labeled", category_id=ids["glass"]) == 8  # its sub-tree too
    assert total(page, pid, status="labeled", category_id=ids["mug"]) == 2

    # The grid: click one, shift-click the fifth, and label all five with one key.
    page.goto(f"/projects/{pid}")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Grid").click()
    expect(page).to_have_url(re.compile(rf"/projects/{pid}/grid$"))
    tiles = page.get_by_role("list", name="Images to select").get_by_role("button")
    expect(tiles).to_have_count(IMAGES - 11)
    # grid.js is deferred: a click before it attaches its handlers selects nothing.
    expect(page.locator("[data-grid-screen]")).to_have_attribute("data-ready", "true")
    tiles.nth(0).click()
    tiles.nth(4).click(modifiers=["Shift"])
    expect(page.get_by_role("button", pressed=True)).to_have_count(5)
    expect(page.get_by_role("heading", name=re.compile("Label the selection"))).to_contain_text(
        "5 selected"
    )
    check_and_shoot(page, shots_dir, "grid-desktop")
    page.keyboard.press("m")
    expect(page.get_by_role("status").filter(has_text="Labeled as mug: 5 images")).to_be_visible()
    expect(tiles).to_have_count(IMAGES - 16)
    expect(page.get_by_role("heading", name=re.compile("Label the selection"))).to_contain_text(
        "0 selected"
    )

    assert total(page, pid, status="labeled") == 15
    assert total(page, pid, status="rejected") == 1
    assert total(page, pid, status="unlabeled") == 1
    assert total(page, pid, status="labeled", category_id=ids["mug"]) == 7
    assert total(page, pid, status="labeled", category_id=ids["glass"]) == 8

    # Both screens fit a phone too.
    page.set_viewport_size(VIEWPORTS["phone"])
    check_and_shoot(page, shots_dir, "grid-phone")
    page.goto(f"/projects/{pid}/label")
    expect(image).to_be_visible()
    check_and_shoot(page, shots_dir, "label-phone")

    # And stay readable in dark mode.
    dark = browser.new_context(base_url=base_url, color_scheme="dark")
    try:
        night = dark.new_page()
        log_in(night)
        night.goto(f"/projects/{pid}/grid?status=all")
        expect(night.get_by_role("list", name="Images to select")).to_be_visible()
        check_and_shoot(night, shots_dir, "grid-desktop-dark")
        night.goto(f"/projects/{pid}/label")
        stage = night.get_by_role("figure", name="Image to label")
        expect(stage.get_by_role("img")).to_be_visible()
        check_and_shoot(night, shots_dir, "label-desktop-dark")
    finally:
        dark.close()
