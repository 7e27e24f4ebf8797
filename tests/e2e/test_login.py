"""The login page: a wrong password, and a keyboard focus you can see."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.flows import ADMIN, log_in

pytestmark = pytest.mark.e2e

# Our stylesheet draws a 3px ring; the browser's own default is 1px, so 2px or more
# proves the focus style comes from curator.css and was not reset to nothing.
MIN_OUTLINE_PX = 2.0


def test_a_wrong_password_says_so_and_stays_on_the_login_page(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Username", exact=True).fill(ADMIN)
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Log in", exact=True).click()

    expect(page.get_by_role("alert")).to_have_text("Incorrect username or password.")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", name="Log in to Curator")).to_be_visible()
    expect(page.get_by_label("Username", exact=True)).to_have_value(ADMIN)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)


def tab_to(page: Page, target: Locator, max_presses: int = 20) -> None:
    """Press Tab, as a keyboard user does, until ``target`` has the focus."""
    for _ in range(max_presses):
        if target.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    expect(target).to_be_focused()


def outline(target: Locator) -> tuple[str, float]:
    style, width = target.evaluate(
        "el => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth]; }"
    )
    return str(style), float(str(width).removesuffix("px"))


def assert_focus_visible(target: Locator) -> None:
    expect(target).to_be_focused()
    style, width = outline(target)
    assert style != "none", f"focused element has no outline: {style} {width}px"
    assert width >= MIN_OUTLINE_PX, f"focus outline too thin: {style} {width}px"


def test_the_keyboard_focus_is_visible(page: Page) -> None:
    page.goto("/login")
    page.evaluate("document.activeElement && document.activeElement.blur()")

    skip = page.get_by_role("link", name="Skip to content")
    tab_to(page, skip)
    assert_focus_visible(skip)
    expect(skip).to_be_in_viewport()

    username = page.get_by_label("Username", exact=True)
    tab_to(page, username)
    assert_focus_visible(username)

    submit = page.get_by_role("button", name="Log in", exact=True)
    tab_to(page, submit)
    assert_focus_visible(submit)

    # Not focused, the same button draws no ring: the outline really marks the focus.
    username.focus()
    assert outline(submit)[0] == "none"

    log_in(page)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    log_out_button = page.get_by_role("button", name="Log out")
    tab_to(page, log_out_button)
    assert_focus_visible(log_out_button)
