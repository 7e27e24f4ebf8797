"""The main screens at desktop and phone widths, light and dark: no sideways scrolling,
text contrast AA. Screenshots go to $CURATOR_E2E_SHOTS (default <tmp>/e2e-shots) to look at.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.e2e.flows import create_project, create_user, log_in, log_out

pytestmark = pytest.mark.e2e

PROJECTS = {
    "Wine glasses": "Glassware photos from the shop floor, 12 categories.",
    "Street signs": "Dashcam frames; European road signs.",
}
VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
AA_NORMAL, AA_LARGE = 4.5, 3.0

# For every visible element with its own text: its color against the first opaque
# background up the tree (alpha composited), and the WCAG contrast ratio of the two.
CONTRAST_JS = """
() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) =>
    top.slice(0, 3).map((v, i) => v * top[3] + bottom[i] * (1 - top[3]));
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg && bg[3] > 0) { layers.push(bg); if (bg[3] >= 1) break; }
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
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    if (!own || box.width < 2 || box.height < 2 || s.visibility !== "visible") continue;
    const bg = background(el);
    const fg = over(parse(s.color), bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
    out.push({ text: el.textContent.trim().slice(0, 40), tag: el.tagName,
               ratio: (hi + 0.05) / (lo + 0.05), large });
  }
  return out;
}
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
    assert overflow <= 0, f"{name}: the page scrolls sideways by {overflow}px"
    low = [
        f"{item['tag']} {item['text']!r}: {item['ratio']:.2f}"
        for item in page.evaluate(CONTRAST_JS)
        if item["ratio"] < (AA_LARGE if item["large"] else AA_NORMAL)
    ]
    assert low == [], f"{name}: text below contrast AA: {low}"


def test_main_screens_fit_and_are_readable(
    screen: Page, shots_dir: Path, scheme: str, viewport: str
) -> None:
    page = screen
    tag = f"{viewport}-{scheme}"

    page.goto("/login")
    expect(page.get_by_role("heading", name="Log in to Curator")).to_be_visible()
    check_and_shoot(page, shots_dir, f"login-{tag}")

    log_in(page)
    listed = page.get_by_role("list", name="Projects")
    for name in PROJECTS:
        expect(listed.get_by_role("link", name=name, exact=True)).to_be_visible()
    check_and_shoot(page, shots_dir, f"projects-{tag}")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", level=1, name="Users")).to_be_visible()
    expect(page.get_by_role("table", name="All users").get_by_role("row")).to_have_count(4)
    check_and_shoot(page, shots_dir, f"users-{tag}")
