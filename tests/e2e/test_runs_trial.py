"""The training runs after the trial (issue 14) in real Chromium against the real server
and worker, with two real linear runs on flowers12 species with long names: the runs table
fits 1280 px, Compare is disabled until two runs are ticked, and no confusion-matrix
column name is clipped."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from tests.e2e.flows import log_in, unique
from tests.e2e.review_world import token_api, wait_for_run
from tests.e2e.test_label_suggestion import _ok
from tests.support.datasets import FLOWERS12
from tests.support.env import require

pytestmark = pytest.mark.e2e

# All twelve, as in the trial: "windflower" is the last column of a wide matrix.
SPECIES = (
    "bluebell", "buttercup", "colts-foot", "daisy", "dandelion", "fritillary",
    "iris", "lily-valley", "pansy", "sunflower", "tigerlily", "windflower",
)  # fmt: skip
PER_SPECIES = 3


@dataclass
class Runs:
    pid: int
    ids: tuple[int, int]


@pytest.fixture(scope="module")
def runs(playwright: Playwright, base_url: str) -> Iterator[Runs]:
    require(FLOWERS12.is_dir(), f"The flowers12 dataset is missing: {FLOWERS12}")
    api = token_api(playwright, base_url)
    try:
        pid = int(_ok(api.post("/api/v1/projects", data={"name": unique("Runs")}))["id"])
        _ok(api.patch(f"/api/v1/projects/{pid}", data={"auto_train_every": 0}))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for species in SPECIES:
                for path in sorted((FLOWERS12 / "train" / species).glob("*.jpg"))[:PER_SPECIES]:
                    archive.write(path, f"{species}/{path.name}")
        multipart: Any = {
            "files": {"name": "r.zip", "mimeType": "application/zip", "buffer": buffer.getvalue()},
            "labels_from_folders": "true",
        }
        _ok(api.post(f"/api/v1/projects/{pid}/images?mode=sync", multipart=multipart))
        made = []
        for _ in range(2):
            body = {"mode": "linear"}
            rid = int(_ok(api.post(f"/api/v1/projects/{pid}/training-runs", data=body))["id"])
            made.append(wait_for_run(api, pid, rid))
        yield Runs(pid, (made[0], made[1]))
    finally:
        api.dispose()


def _page(browser: Browser, base_url: str) -> Page:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    log_in(page)
    return page


def test_the_runs_table_fits_1280_px(browser: Browser, base_url: str, runs: Runs) -> None:
    page = _page(browser, base_url)
    page.goto(f"/projects/{runs.pid}/training")
    region = page.get_by_role("region", name="Training runs")
    expect(region).to_be_visible()
    sizes = region.evaluate("(r) => ({scroll: r.scrollWidth, client: r.clientWidth})")
    assert sizes["scroll"] <= sizes["client"], sizes
    # Every column head is inside the page's width.
    for head in region.get_by_role("columnheader").all():
        box = head.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= 1280, head.inner_text()
    page.context.close()


def test_compare_is_disabled_until_two_runs_are_ticked(
    browser: Browser, base_url: str, runs: Runs
) -> None:
    page = _page(browser, base_url)
    page.goto(f"/projects/{runs.pid}/training")
    button = page.get_by_role("button", name="Compare the two ticked runs")
    expect(button).to_be_disabled()
    first, second = runs.ids
    page.get_by_label(f"Tick run #{first} to compare").check()
    expect(button).to_be_disabled()
    expect(page.locator("[data-compare-status]")).to_have_text(
        "Tick two runs in the table (1 ticked)."
    )
    page.get_by_label(f"Tick run #{second} to compare").check()
    expect(button).to_be_enabled()
    button.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Run #{min(runs.ids)} and run #{max(runs.ids)} side by side"
    )
    page.context.close()


def test_no_confusion_matrix_column_name_is_clipped(
    browser: Browser, base_url: str, runs: Runs
) -> None:
    page = _page(browser, base_url)
    page.goto(f"/projects/{runs.pid}/runs/{runs.ids[1]}")
    matrix = page.get_by_role(
        "table", name="Confusion matrix: labels in rows, predictions in columns"
    )
    heads = matrix.locator("th.col-name")
    expect(heads).to_have_count(len(SPECIES))
    found = heads.evaluate_all(
        """(ths) => ths.map((th) => {
            const range = document.createRange();
            range.selectNodeContents(th);
            const text = range.getBoundingClientRect();
            const box = th.getBoundingClientRect();
            return {
                name: th.textContent.trim(), title: th.title,
                inside: text.left >= box.left - 0.5 && text.right <= box.right + 0.5
                    && text.top >= box.top - 0.5 && text.bottom <= box.bottom + 0.5,
                overflows: th.scrollWidth > th.clientWidth || th.scrollHeight > th.clientHeight,
            };
        })"""
    )
    assert sorted(h["name"] for h in found) == sorted(SPECIES), found
    for head in found:
        assert head["title"] == head["name"], head
        assert head["inside"], head
        assert not head["overflows"], head
    # Nor cut off at the edge of the matrix's own box: it fits the page at 1280 px.
    region = page.get_by_role("region", name="Confusion matrix")
    sizes = region.evaluate("(r) => ({scroll: r.scrollWidth, client: r.clientWidth})")
    assert sizes["scroll"] <= sizes["client"], sizes
    page.context.close()
