"""The grid opens a selection handed over by the embedding map: ``ids=`` limits it to
those images (of this project only), keeps them across pages, and refuses malformed or
oversized lists."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.auth.models import Role
from tests.conftest import ClientFor, UserFactory
from tests.labeling.helpers import arrange

Grid = tuple[int, list[int], TestClient]


def _shown(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-image-id="(\d+)"', html)]


@pytest.fixture
def grid(api_as: ClientFor, browser_as: ClientFor, make_user: UserFactory) -> Grid:
    boss = make_user(Role.manager)
    s = arrange(api_as(boss), images=6)
    return s.pid, s.image_ids, browser_as(boss)


def test_only_the_selected_images(grid: Grid) -> None:
    pid, ids, browser = grid
    chosen = [ids[1], ids[4]]
    resp = browser.get(f"/projects/{pid}/grid?status=all&ids={chosen[0]},{chosen[1]}")
    assert resp.status_code == 200
    assert _shown(resp.text) == chosen
    assert "Showing the 2 images selected on the map" in resp.text
    # Without ids: every image.
    assert _shown(browser.get(f"/projects/{pid}/grid?status=all").text) == ids


def test_another_projects_ids_show_nothing(
    grid: Grid, api_as: ClientFor, make_user: UserFactory
) -> None:
    pid, _, browser = grid
    other = arrange(api_as(make_user(Role.manager)), images=2, name="Other")
    resp = browser.get(f"/projects/{pid}/grid?status=all&ids={other.image_ids[0]}")
    assert resp.status_code == 200
    assert _shown(resp.text) == []


@pytest.mark.parametrize(
    "ids",
    ["abc", "1,-2", "1;2", "0", "99999999999999", ",".join(["1"] * 501), "1," * 3000],
    ids=["letters", "negative", "semicolon", "zero", "huge", "501 ids", "too long"],
)
def test_malformed_or_oversized_lists_are_refused(grid: Grid, ids: str) -> None:
    pid, _, browser = grid
    resp = browser.get(f"/projects/{pid}/grid", params={"status": "all", "ids": ids})
    assert resp.status_code in (400, 422)
    assert "Traceback" not in resp.text
