"""The project overview in Chromium at 1280x800, light and dark: it fits one screen,
its text meets AA contrast, the class tree collapses and expands, and the tabs switch
sections with the address in step (back returns to the overview)."""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from app.auth.models import User
from tests.conftest import PASSWORD, ClientFor
from tests.e2e.test_layout import AA_LARGE, AA_NORMAL, CONTRAST_JS
from tests.overview.world import World, build
from tests.support.processes import free_port, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    """The test's app over real HTTP (uvicorn in a thread), so its rows can be hand-built."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=20, what="uvicorn to start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def world(db: Session, api_as: ClientFor, manager: User, labeler: User) -> World:
    return build(db, api_as(manager), api_as(labeler), labeler.username)


def _open(browser: Browser, base: str, scheme: str, user: User) -> Page:
    context = browser.new_context(
        base_url=base,
        viewport={"width": 1280, "height": 800},
        color_scheme=scheme,  # type: ignore[arg-type]
    )
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Username", exact=True).fill(user.username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/projects$"))
    return page


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_overview_fits_one_screen_and_reads_in_both_schemes(
    browser: Browser, served: str, world: World, manager: User, scheme: str
) -> None:
    page = _open(browser, served, scheme, manager)
    page.goto(f"/projects/{world.pid}")
    expect(page.get_by_role("heading", name="Class balance")).to_be_visible()
    expect(page.get_by_role("figure", name="Learning curve")).to_be_visible()
    expect(page.get_by_role("link", name="2 label issues")).to_have_attribute(
        "href", f"/projects/{world.pid}/label?mode=label_issues"
    )
    box = page.locator(".ov-grid").bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= 800, f"the overview ends at y={box['y'] + box['height']}"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    shots = Path(os.environ.get("CURATOR_E2E_SHOTS", Path(tempfile.gettempdir()) / "e2e-shots"))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"overview-filled-desktop-{scheme}.png"))
    found = page.evaluate(CONTRAST_JS)
    low = [t for t in found["text"] if t["ratio"] < (AA_LARGE if t["large"] else AA_NORMAL)]
    assert not low, low
    # Every chart has words: the drawings are images with a name.
    for name in ("labeled, 1 rejected", "Labels per day", "Learning curve"):
        expect(page.get_by_role("img", name=re.compile(name)).first).to_be_visible()
    page.context.close()


def test_the_class_tree_collapses_and_expands(
    browser: Browser, served: str, world: World, manager: User
) -> None:
    page = _open(browser, served, "light", manager)
    page.goto(f"/projects/{world.pid}")
    tree = page.get_by_role("list", name="Categories")
    daisy = page.get_by_role("list", name="Under flower").get_by_text("daisy", exact=True)
    expect(daisy).to_be_visible()
    flower = tree.locator("summary").filter(has_text="flower")
    flower.click()
    expect(daisy).to_be_hidden()
    expect(tree.get_by_text("tree", exact=True)).to_be_visible()  # its sibling stays
    flower.focus()
    page.keyboard.press("Enter")  # the keyboard opens it again
    expect(daisy).to_be_visible()
    page.context.close()


def test_tabs_switch_sections_and_back_returns(
    browser: Browser, served: str, world: World, manager: User
) -> None:
    page = _open(browser, served, "light", manager)
    page.goto(f"/projects/{world.pid}")
    sections = page.get_by_role("navigation", name="Project sections")
    expect(sections).to_have_attribute("data-ready", "true")
    sections.get_by_role("link", name="People").click()
    expect(page).to_have_url(re.compile(rf"/projects/{world.pid}\?tab=people$"))
    expect(page.get_by_role("table", name="Members of Overview")).to_be_visible()
    expect(page.get_by_role("heading", name="Class balance")).to_be_hidden()
    page.go_back()
    expect(page.get_by_role("heading", name="Class balance")).to_be_visible()
    expect(page.get_by_role("table", name="Members of Overview")).to_be_hidden()
    page.reload()  # the address alone picks the section
    page.goto(f"/projects/{world.pid}?tab=settings")
    expect(page.get_by_role("button", name="Archive project")).to_be_visible()
    page.context.close()
