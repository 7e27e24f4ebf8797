"""Category colours: 24 committed glasbey colours, each readable on the light and the dark
theme and far from every other; siblings never share one; each colour has a shape too."""

from __future__ import annotations

import itertools
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import User
from app.taxonomy.models import Category
from app.taxonomy.palette import BACKGROUNDS, PALETTE, SHAPES, contrast, pick_colour, shape_of
from tests.conftest import ClientFor
from tests.taxonomy.test_categories_api import add

ROOT = Path(__file__).resolve().parents[2]
MIN_DELTA_E = 15.0  # CIE76; 2.3 is a just-noticeable difference


def lab(colour: str) -> tuple[float, float, float]:
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


def test_the_palette_has_24_distinct_colours_readable_in_both_themes() -> None:
    assert len(PALETTE) >= 20
    assert len(set(PALETTE)) == len(PALETTE)
    for colour in PALETTE:
        for bg in BACKGROUNDS:
            assert contrast(colour, bg) >= 3.0, (colour, bg)
    closest = min(math.dist(lab(a), lab(b)) for a, b in itertools.combinations(PALETTE, 2))
    assert closest >= MIN_DELTA_E


def test_the_old_palette_would_fail() -> None:
    """The check above is not vacuous: Tableau 10's pink and yellow fail on white."""
    assert contrast("#ff9da7", "#ffffff") < 3.0
    assert contrast("#edc948", "#ffffff") < 3.0


@pytest.mark.skipif(not os.environ.get("CURATOR_SLOW"), reason="imports glasbey: CURATOR_SLOW=1")
def test_the_committed_palette_is_what_the_script_makes() -> None:
    made = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_palette.py")],
        capture_output=True, text=True, check=True, timeout=600,
    ).stdout  # fmt: skip
    assert made == (ROOT / "app" / "taxonomy" / "palette_data.py").read_text()


def test_siblings_never_share_a_colour(api: TestClient, db: Session) -> None:
    pid = int(api.post("/api/v1/projects", json={"name": "Flowers"}).json()["id"])
    root = add(api, pid, "plants")
    kids = [add(api, pid, f"species {i}", root["id"]) for i in range(len(PALETTE))]
    colours = [k["color"] for k in kids]
    assert len(set(colours)) == len(PALETTE)  # every colour once among 24 siblings
    # A second family prefers colours the tree has not used... there are none left, so
    # its children still differ from one another.
    other = add(api, pid, "fungi")
    assert other["color"] != root["color"]
    fungi = [add(api, pid, f"fungus {i}", other["id"])["color"] for i in range(5)]
    assert len(set(fungi)) == 5
    # 25 siblings: the 25th repeats a colour, but not its neighbour's.
    extra = add(api, pid, "species 24", root["id"])["color"]
    assert extra != colours[-1]


def test_a_colour_given_by_hand_is_kept_and_existing_ones_stay(
    api: TestClient, db: Session
) -> None:
    pid = int(api.post("/api/v1/projects", json={"name": "Glass"}).json()["id"])
    a = add(api, pid, "wine", color="#112233")
    b = add(api, pid, "beer")
    assert a["color"] == "#112233"
    assert b["color"] == PALETTE[0]
    assert db.get_one(Category, a["id"]).color == "#112233"


def test_pick_prefers_colours_unused_in_the_tree() -> None:
    assert pick_colour([], []) == PALETTE[0]
    assert pick_colour([PALETTE[0]], [PALETTE[0], PALETTE[1]]) == PALETTE[2]
    assert pick_colour([], PALETTE) == PALETTE[0]  # all used elsewhere: siblings rule only
    assert pick_colour([PALETTE[0].upper()], []) == PALETTE[1]


def test_every_colour_has_a_shape_and_neighbours_differ() -> None:
    shapes = [shape_of(c) for c in PALETTE]
    assert set(shapes) == set(SHAPES)
    for window in range(len(PALETTE) - len(SHAPES) + 1):
        assert len(set(shapes[window : window + len(SHAPES)])) == len(SHAPES)
    assert shape_of("#112233") in SHAPES
    assert shape_of(None) in SHAPES


def test_the_taxonomy_page_draws_each_category_in_its_own_shape(
    api: TestClient, browser_as: ClientFor, admin: User
) -> None:
    pid = int(api.post("/api/v1/projects", json={"name": "Shapes"}).json()["id"])
    colours = [add(api, pid, f"species {i}")["color"] for i in range(len(SHAPES))]
    page = browser_as(admin).get(f"/projects/{pid}/taxonomy")
    assert page.status_code == 200, page.text
    drawn = re.findall(r'<svg class="swatch"[^>]*data-shape="(\w+)"', page.text)
    assert drawn == [shape_of(c) for c in colours]
    assert set(drawn) == set(SHAPES)  # six siblings in a row: six shapes
