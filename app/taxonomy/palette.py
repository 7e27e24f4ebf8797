"""Category colours: a committed glasbey palette (scripts/make_palette.py), a mark for
each colour that does not rely on colour, and the rule for picking a new category's one.

Rule: a new category gets the first palette colour that none of its siblings has, and
among those, preferably one no other category of the tree has either. Existing
categories keep their colour (it is shown in saved screenshots, exports and people's
heads); only a colour given explicitly changes it. Two siblings that share a colour from
before this rule still get distinct marks, since marks follow the sibling order.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from app.taxonomy.palette_data import PALETTE_DATA
from app.web.templates import templates

PALETTE: tuple[str, ...] = PALETTE_DATA
# Light and dark cards and page backgrounds of static/css/curator.css: each colour must
# stand out at 3:1 from all four (WCAG 1.4.11, a graphic needed to understand the page).
BACKGROUNDS = ("#ffffff", "#f6f7f9", "#1e2228", "#15181c")
MIN_CONTRAST = 3.0


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    r, g, b = (_linear(int(colour[i : i + 2], 16)) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    low, high = sorted((luminance(a), luminance(b)))
    return (high + 0.05) / (low + 0.05)


def readable(colour: str) -> bool:
    return all(contrast(colour, bg) >= MIN_CONTRAST for bg in BACKGROUNDS)


def pick_colour(siblings: Sequence[str], tree: Collection[str]) -> str:
    """The first palette colour no sibling has, preferring one unused in the whole tree.

    ``siblings`` in their order: the last is the one the new category will sit beside.
    """
    taken = [c.lower() for c in siblings]
    used = {c.lower() for c in tree}
    free = [c for c in PALETTE if c not in taken]
    if not free:  # more siblings than colours: the least repeated, not the last one's
        others = [c for c in PALETTE if c != taken[-1]]
        return min(others, key=taken.count)
    return next((c for c in free if c not in used), free[0])


# A shape per colour, for people who cannot tell two colours apart: the palette's first
# six colours (a small tree's) all differ in shape, and so do any six in a row.
SHAPES = ("circle", "square", "triangle", "diamond", "cross", "down")


def shape_of(colour: str | None) -> str:
    colour = (colour or "").lower()
    if colour in PALETTE:
        return SHAPES[PALETTE.index(colour) % len(SHAPES)]
    # A colour picked by hand: still one shape, the same on every page.
    return SHAPES[sum(colour.encode()) % len(SHAPES)]


# Every page draws a category's mark through this filter (templates/_marks.html).
templates.env.filters["mark_shape"] = shape_of
