"""What the layout tests look for on a screen, measured in the page: content that sticks
out of its box (clipped or spilling), interactive elements on top of each other, text
something else covers, and axe-core's serious and critical findings (contrast AA among
them). Each check returns what it found, named so a failure says where to look.
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

# Shared by the checks below: is an element drawn (not display:none, not the 1-pixel
# visually-hidden text for screen readers), and a short name for a report.
HELPERS_JS = """
  const drawn = (el) => {
    const box = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    // checkVisibility: a closed <details>'s content still has boxes in Chromium.
    return box.width >= 2 && box.height >= 2 && s.visibility === "visible"
      && el.checkVisibility({ opacityProperty: true, contentVisibilityAuto: true })
      && !el.closest(".visually-hidden, [hidden], dialog:not([open])");
  };
  const name = (el) => {
    const first = typeof el.className === "string" ? el.className.split(" ")[0] : "";
    const cls = first ? `.${first}` : "";
    const text = (el.getAttribute("aria-label") || el.textContent || "").trim().slice(0, 30);
    return `${el.tagName.toLowerCase()}${cls} "${text}"`;
  };
  const scrolls = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
"""

# An element whose content is wider than its box, unless the box is a scroll container
# (a table in its .table-scroll is meant to scroll) or sits inside one.
CLIPPED_JS = (
    "() => {"
    + HELPERS_JS
    + """
  const found = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el instanceof SVGElement || el.tagName === "CANVAS" || !drawn(el)) continue;
    if (el.clientWidth === 0 || scrolls(el)) continue;
    let inScroller = false;
    for (let a = el.parentElement; a; a = a.parentElement) if (scrolls(a)) inScroller = true;
    if (inScroller) continue;
    const over = el.scrollWidth - el.clientWidth;
    if (over > 1) found.push(`${name(el)} by ${over}px`);
  }
  return found.slice(0, 8);
}"""
)

# Two interactive elements whose boxes intersect (neither inside the other), and text
# whose middle is under another element. Only what the viewport shows is judged, as the
# page is scrolled through.
OVERLAP_JS = (
    "() => {"
    + HELPERS_JS
    + """
  const inView = (r) => r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;
  const hidden = (el, x, y) => {
    for (let a = el.parentElement; a; a = a.parentElement) {
      if (getComputedStyle(a).overflow === "visible") continue;
      const r = a.getBoundingClientRect();
      if (x < r.left || x > r.right || y < r.top || y > r.bottom) return true;
    }
    return false;
  };
  const picks = "a[href], button, input:not([type=hidden]), select, textarea, summary, "
    + "[role=button], [tabindex]:not([tabindex='-1'])";
  const controls = [...document.querySelectorAll(picks)]
    .filter((el) => drawn(el) && inView(el.getBoundingClientRect()));
  const overlaps = [];
  for (let i = 0; i < controls.length; i += 1) {
    for (let j = i + 1; j < controls.length; j += 1) {
      const [a, b] = [controls[i], controls[j]];
      if (a.contains(b) || b.contains(a)) continue;
      if (a.closest("label") && a.closest("label") === b.closest("label")) continue;
      // Line by line: a link that wraps has a box spanning both lines' full width.
      for (const p of a.getClientRects()) {
        for (const q of b.getClientRects()) {
          const w = Math.min(p.right, q.right) - Math.max(p.left, q.left);
          const h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
          const size = `${w.toFixed(0)}x${h.toFixed(0)}px`;
          if (w > 1 && h > 1) overlaps.push(`${name(a)} and ${name(b)} (${size})`);
        }
      }
    }
  }
  const covered = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || !drawn(el)) continue;
    if (el.closest("option, script, style")) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const r = range.getClientRects()[0];
    if (!r || r.width < 2 || r.height < 2 || !inView(r)) continue;
    const [x, y] = [r.left + r.width / 2, r.top + r.height / 2];
    if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight || hidden(el, x, y)) continue;
    const top = document.elementFromPoint(x, y);
    if (!top || el.contains(top) || top.contains(el)) continue;
    // A label drawn over its own control's box (a floating caption) is by design.
    if (top.closest("label") && top.closest("label") === el.closest("label")) continue;
    covered.push(`${name(el)} under ${name(top)}`);
  }
  return { overlaps: overlaps.slice(0, 8), covered: [...new Set(covered)].slice(0, 8) };
}"""
)

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

AXE = Axe()
AXE_OPTIONS: dict[str, Any] = {"resultTypes": ["violations"]}


def sideways(page: Page) -> int:
    """How far the page scrolls sideways (0 when it does not)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def clipped(page: Page) -> list[str]:
    return list(page.evaluate(CLIPPED_JS))


def overlapping(page: Page) -> dict[str, list[str]]:
    """Overlaps and covered text, the page scrolled through one viewport at a time."""
    found: dict[str, list[str]] = {"overlaps": [], "covered": []}
    height = int(page.evaluate("document.documentElement.scrollHeight"))
    step = int(page.evaluate("window.innerHeight"))
    for top in range(0, max(height, 1), step):
        page.evaluate(f"window.scrollTo(0, {top})")
        seen = page.evaluate(OVERLAP_JS)
        for kind in found:
            found[kind] += [f"at y={top}: {item}" for item in seen[kind]]
    page.evaluate("window.scrollTo(0, 0)")
    return found


def axe_findings(page: Page) -> list[str]:
    """axe-core's colour-contrast findings and every serious or critical one."""
    results = AXE.run(page, options=AXE_OPTIONS)
    found = []
    for rule in results.response["violations"]:
        if rule["id"] == "color-contrast" or rule["impact"] in {"serious", "critical"}:
            where = [" ".join(map(str, n["target"])) for n in rule["nodes"][:4]]
            found.append(f"{rule['id']} ({rule['impact']}): {where}")
    return found
