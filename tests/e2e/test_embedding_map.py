"""The embedding map in real Chromium, on a real `curator serve`: real photos uploaded,
embedded by the worker's backbone and laid out by its map task; the page paints every
point, a lasso drawn around one clump selects exactly the points inside it, "Label
selection" labels them, the grid opens the same images, and the annotations read back
through the API say so."""

from __future__ import annotations

import io
import math
import re
import time
import zipfile

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.flows import log_in, unique
from tests.support.datasets import FLOWERS12
from tests.support.env import require

pytestmark = pytest.mark.e2e

SPECIES = ("daisy", "sunflower")
PER_SPECIES = 10


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for species in SPECIES:
            for photo in sorted((FLOWERS12 / "train" / species).glob("*.jpg"))[:PER_SPECIES]:
                archive.write(photo, f"{species}/{photo.name}")
    return buffer.getvalue()


def _api(page: Page, method: str, url: str, **kwargs: object) -> dict[str, object]:
    token = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    resp = page.request.fetch(url, method=method, headers={"X-CSRF-Token": token}, **kwargs)  # type: ignore[arg-type]
    assert resp.ok, resp.text()
    body: dict[str, object] = resp.json()
    return body


def _wait_for_map(page: Page, pid: int, count: int, timeout: float = 240) -> list[dict[str, float]]:
    """Poll the map API until the worker has placed every image (embedding and a UMAP fit
    on two busy cores take a while; the deadline is generous, the poll is a condition)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = page.request.get(f"/api/v1/projects/{pid}/embedding-map").json()
        if len(body["items"]) == count:
            return list(body["items"])
        page.wait_for_timeout(1000)
    raise AssertionError(f"the map did not reach {count} points in {timeout}s: {body}")


def _inside(poly: list[tuple[float, float]], x: float, y: float) -> bool:
    hit = False
    j = len(poly) - 1
    for k, (xk, yk) in enumerate(poly):
        xj, yj = poly[j]
        if (yk > y) != (yj > y) and x < (xj - xk) * (y - yk) / (yj - yk) + xk:
            hit = not hit
        j = k
    return hit


def test_lasso_a_clump_and_label_it(page: Page) -> None:
    require((FLOWERS12 / "train" / "daisy").is_dir(), f"flowers12 is missing at {FLOWERS12}")
    log_in(page)
    page.goto("/projects")
    project = _api(page, "POST", "/api/v1/projects", data={"name": unique("Map")})
    pid = int(project["id"])  # type: ignore[call-overload]
    flower = _api(page, "POST", f"/api/v1/projects/{pid}/categories", data={"name": "flower"})
    uploaded = _api(
        page,
        "POST",
        f"/api/v1/projects/{pid}/images",
        multipart={
            "files": {"name": "flowers.zip", "mimeType": "application/zip", "buffer": _zip()}
        },
    )
    total = len(SPECIES) * PER_SPECIES
    assert len(uploaded["imported"]) == total  # type: ignore[arg-type]
    points = _wait_for_map(page, pid, total)

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"/projects/{pid}")
    page.get_by_role("link", name="Map").first.click()
    expect(page).to_have_url(re.compile(rf"/projects/{pid}/map$"))
    canvas = page.locator("[data-map-canvas]")
    expect(canvas).to_have_attribute("data-ready", "true")
    expect(canvas).to_have_attribute("data-points", str(total))
    expect(page.get_by_role("status").filter(has_text="images on the map")).to_contain_text(
        f"{total} images on the map"
    )
    painted = page.evaluate("performance.getEntriesByName('map-first-paint').length")
    assert painted == 1
    # The canvas is not blank: some pixels carry the points' colour.
    coloured = page.evaluate(
        """() => {
          const c = document.querySelector('[data-map-canvas]');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n;
        }"""
    )
    assert coloured >= total * 4

    # Where each point is on screen, from the page's own mapping.
    box = canvas.bounding_box()
    assert box is not None
    scale = float(canvas.get_attribute("data-scale") or "nan")
    ox = float(canvas.get_attribute("data-offset-x") or "nan")
    oy = float(canvas.get_attribute("data-offset-y") or "nan")
    screen = {int(p["image_id"]): (ox + p["x"] * scale, oy - p["y"] * scale) for p in points}

    # A lasso (a 24-sided loop) around the first daisy and its nearest neighbours on the map.
    first = min(screen)
    cx, cy = screen[first]
    near = sorted(screen.values(), key=lambda q: math.dist(q, (cx, cy)))
    radius = math.dist(near[min(5, len(near) - 1)], (cx, cy)) + 4
    loop = [
        (cx + radius * math.cos(2 * math.pi * k / 24), cy + radius * math.sin(2 * math.pi * k / 24))
        for k in range(24)
    ]
    expected = sorted(i for i, (x, y) in screen.items() if _inside(loop, x, y))
    assert first in expected
    assert len(expected) < total  # a clump, not the whole map
    page.mouse.move(box["x"] + loop[0][0], box["y"] + loop[0][1])
    page.mouse.down()
    for x, y in [*loop[1:], loop[0]]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=2)
    page.mouse.up()
    selection = page.get_by_role("region", name=re.compile("Selection"))
    expect(selection.locator("[data-selected-count]")).to_have_text(str(len(expected)))

    page.get_by_label("Label as").select_option(label="flower")
    page.get_by_role("button", name="Label selection").click()
    expect(page.get_by_role("status").filter(has_text="Labeled")).to_contain_text(
        f"{len(expected)} images"
    )

    # The same selection opens in the grid.
    page.get_by_role("link", name="Open in the grid").click()
    expect(page).to_have_url(re.compile(rf"/projects/{pid}/grid\?status=all&ids="))
    tiles = page.get_by_role("list", name="Images to select").locator("[data-image-id]")
    expect(tiles).to_have_count(len(expected))
    shown = sorted(int(t.get_attribute("data-image-id") or 0) for t in tiles.all())
    assert shown == expected

    flower_id = flower["id"]
    for image_id in screen:
        history = page.request.get(f"/api/v1/images/{image_id}/annotations").json()
        if image_id in expected:
            assert [a["category_id"] for a in history] == [flower_id], image_id
        else:
            assert history == [], image_id
