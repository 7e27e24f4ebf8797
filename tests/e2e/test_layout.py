"""The main screens at desktop and phone widths, light and dark: no sideways scrolling,
contrast AA for text (4.5:1) and for the edges of form controls (3:1).
Screenshots go to $CURATOR_E2E_SHOTS (default <tmp>/e2e-shots) to look at.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.e2e.flows import (
    add_category,
    add_member,
    create_project,
    create_user,
    log_in,
    log_out,
    open_tab,
    open_taxonomy,
    project_list,
    unique,
)

pytestmark = pytest.mark.e2e

PROJECTS = {
    "Wine glasses": "Glassware photos from the shop floor, 12 categories.",
    "Street signs": "Dashcam frames; European road signs.",
}
VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
AA_NORMAL, AA_LARGE, AA_NON_TEXT = 4.5, 3.0, 3.0

# WCAG contrast, computed in the page. Colors are composited over the first opaque
# background up the tree. "text": every visible element with its own text, its color
# against its background. "controls": every visible input, select, textarea and button,
# the better of its border and its fill against what surrounds it.
CONTRAST_JS = """
() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) =>
    top.slice(0, 3).map((v, i) => v * top[3] + bottom[i] * (1 - top[3]));
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg[3] > 0) { layers.push(bg); if (bg[3] >= 1) break; }
    }
    let rgb = [255, 255, 255];
    for (const layer of layers.reverse()) rgb = over(layer, rgb);
    return rgb;
  };
  const lum = (rgb) => {
    const [r, g, b] = rgb.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const shown = (el) => {
    const box = el.getBoundingClientRect();
    return box.width >= 2 && box.height >= 2 && getComputedStyle(el).visibility === "visible";
  };
  const label = (el) => `${el.tagName} ${(el.textContent || el.name || "").trim().slice(0, 40)}`;
  const text = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !shown(el)) continue;
    const s = getComputedStyle(el);
    const bg = background(el);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
    text.push({ what: label(el), ratio: ratio(over(parse(s.color), bg), bg), large });
  }
  const controls = [];
  const fields = "input:not([type=hidden]), select, textarea, button";
  for (const el of document.querySelectorAll(fields)) {
    const s = getComputedStyle(el);
    const fill = parse(s.backgroundColor);
    const edge = parseFloat(s.borderTopWidth) > 0 ? parse(s.borderTopColor) : [0, 0, 0, 0];
    // A control drawn as plain text (a link-style button) is judged as text above.
    if (!shown(el) || (fill[3] === 0 && edge[3] === 0)) continue;
    const around = background(el.parentElement);
    const best = Math.max(ratio(over(edge, around), around), ratio(over(fill, around), around));
    controls.push({ what: label(el), ratio: best });
  }
  return { text, controls };
}
"""


# What sticks out past the viewport, to name the culprit when the page scrolls sideways.
WIDE_JS = """
() => [...document.querySelectorAll("body *")]
  .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
  .filter((el) => !el.closest(".table-scroll, .chart-scroll"))
  .slice(0, 6)
  .map((el) => `${el.tagName.toLowerCase()}.${el.className}: ${el.textContent.trim().slice(0, 30)}`)
"""


@pytest.fixture(scope="module")
def populated(browser: Browser, base_url: str) -> None:
    """Two projects and a few users, so the screens show something real."""
    context = browser.new_context(base_url=base_url)
    try:
        page = context.new_page()
        log_in(page)
        for name, description in PROJECTS.items():
            create_project(page, name, description)
        create_user(page, "mona", "manager")
        create_user(page, "lena", "labeler")
        add_member(page, "Wine glasses", "mona", "manager")
        add_member(page, "Wine glasses", "lena")
        open_taxonomy(page, "Wine glasses")
        add_category(page, "glass", description="Anything **made of glass**, empty or full.")
        add_category(page, "wine glass", parent="glass", description="A stem and a bowl.")
        add_category(page, "beer glass", parent="glass")
        log_out(page)
    finally:
        context.close()


@pytest.fixture(scope="session")
def shots_dir() -> Path:
    default = Path(tempfile.gettempdir()) / "e2e-shots"
    path = Path(os.environ.get("CURATOR_E2E_SHOTS", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(params=["light", "dark"])
def scheme(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def screen(
    browser: Browser, base_url: str, populated: None, scheme: str, viewport: str
) -> Iterator[Page]:
    options: dict[str, Any] = {"color_scheme": scheme, "viewport": VIEWPORTS[viewport]}
    context = browser.new_context(base_url=base_url, **options)
    try:
        yield context.new_page()
    finally:
        context.close()


def check_and_shoot(page: Page, shots_dir: Path, name: str) -> None:
    page.screenshot(path=shots_dir / f"{name}.png", full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    wide = page.evaluate(WIDE_JS) if overflow > 0 else []
    assert overflow <= 0, f"{name}: the page scrolls sideways by {overflow}px: {wide}"
    found = page.evaluate(CONTRAST_JS)
    low_text = [
        f"{item['what']!r}: {item['ratio']:.2f}"
        for item in found["text"]
        if item["ratio"] < (AA_LARGE if item["large"] else AA_NORMAL)
    ]
    assert low_text == [], f"{name}: text below contrast AA: {low_text}"
    faint = [
        f"{c['what']!r}: {c['ratio']:.2f}" for c in found["controls"] if c["ratio"] < AA_NON_TEXT
    ]
    assert faint == [], f"{name}: form controls whose edge is too faint (< 3:1): {faint}"


def test_main_screens_fit_and_are_readable(
    screen: Page, shots_dir: Path, scheme: str, viewport: str
) -> None:
    page = screen
    tag = f"{viewport}-{scheme}"

    page.goto("/login")
    expect(page.get_by_role("heading", name="Log in to Curator")).to_be_visible()
    check_and_shoot(page, shots_dir, f"login-{tag}")

    # The error state too (an unknown name, so admin's failed-login count stays low).
    page.get_by_label("Username", exact=True).fill(unique("nobody"))
    page.get_by_label("Password", exact=True).fill("not-a-password")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Incorrect username or password.")
    check_and_shoot(page, shots_dir, f"login-error-{tag}")

    log_in(page)
    listed = page.get_by_role("list", name="Projects")
    for name in PROJECTS:
        expect(listed.get_by_role("link", name=name, exact=True)).to_be_visible()
    check_and_shoot(page, shots_dir, f"projects-{tag}")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", level=1, name="Users")).to_be_visible()
    expect(page.get_by_role("table", name="All users").get_by_role("row")).to_have_count(4)
    check_and_shoot(page, shots_dir, f"users-{tag}")

    project_list(page).get_by_role("link", name="Wine glasses", exact=True).click()
    expect(page.get_by_role("heading", name="Class balance")).to_be_visible()
    check_and_shoot(page, shots_dir, f"overview-{tag}")
    open_tab(page, "People")
    members = page.get_by_role("table", name="Members of Wine glasses")
    for member in ("mona", "lena"):
        expect(members.get_by_role("row").filter(has_text=member)).to_have_count(1)
    check_and_shoot(page, shots_dir, f"project-{tag}")

    open_taxonomy(page, "Wine glasses")
    expect(page.get_by_role("list", name="Inside glass").get_by_role("listitem")).to_have_count(2)
    page.get_by_text("Edit glass/wine glass", exact=True).click()
    expect(page.get_by_role("form", name="Edit glass/wine glass")).to_be_visible()
    check_and_shoot(page, shots_dir, f"taxonomy-{tag}")
