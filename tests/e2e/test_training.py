"""Training in real Chromium against the real server and Celery worker: 18 real flower
photos labeled by their folders, a linear run started from the dashboard, its progress
followed live to the end without a reload, then its metrics and confusion matrix."""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Literal

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.flows import create_project, log_in, open_tab, unique
from tests.e2e.test_images import drop, summary
from tests.e2e.test_layout import VIEWPORTS, check_and_shoot
from tests.support.datasets import FLOWERS12
from tests.support.env import require

pytestmark = pytest.mark.e2e

FLOWERS = FLOWERS12 / "train"
SPECIES = ("bluebell", "daisy", "sunflower")
PER_SPECIES = 6
# The first run loads the backbone and embeds every image on a 2-core CPU.
RUN_TIMEOUT_MS = 300_000

# Remembers each status the runs list showed after an htmx refresh, so the test can tell
# the list changed in place (the page itself is never reloaded).
WATCH_JS = """
() => {
  window.__statuses = [];
  document.body.addEventListener("htmx:afterSettle", () => {
    const cell = document.querySelector("#training-runs tbody tr td:nth-child(4)");
    if (cell) window.__statuses.push(cell.textContent.trim());
  });
}
"""


def flowers_zip() -> bytes:
    """An ImageFolder zip: <species>/<file>.jpg, the first few photos of each species."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for species in SPECIES:
            for path in sorted((FLOWERS / species).glob("*.jpg"))[:PER_SPECIES]:
                archive.write(path, f"{species}/{path.name}")
    return buffer.getvalue()


def test_train_from_the_dashboard_and_read_the_metrics(
    page: Page, browser: Browser, base_url: str
) -> None:
    shots_dir = Path(os.environ.get("CURATOR_E2E_SHOTS", Path(tempfile.gettempdir()) / "e2e-shots"))
    shots_dir.mkdir(parents=True, exist_ok=True)
    require(FLOWERS.is_dir(), f"The flowers12 dataset is missing: {FLOWERS}")
    project = unique("Flowers")
    log_in(page)
    create_project(page, project)
    pid = int(re.search(r"/projects/(\d+)$", page.url).group(1))  # type: ignore[union-attr]
    open_tab(page, "Add images")
    page.get_by_label("Label by folder names (ImageFolder zips)").check()
    drop(page, [("flowers.zip", flowers_zip())])
    total = len(SPECIES) * PER_SPECIES
    expect(summary(page)).to_contain_text(f"{total} imported, 0 duplicates, 0 errors.")

    # The form's level choices come from the taxonomy the import just made.
    page.reload()
    open_tab(page, "Training")
    training = page.get_by_role("region", name="Training")
    form = training.get_by_role("form", name="Train a model")
    form.get_by_label("Mode", exact=True).select_option(label="Fast linear probe")
    form.get_by_label("Taxonomy level").select_option(label="Deepest labels (each label as it is)")
    expect(form.get_by_label("Backbone", exact=True)).to_have_value("efficientnet_lite0")
    form.get_by_role("button", name="Train").click()
    flash = page.get_by_role("status").filter(has_text="Queued run #")
    expect(flash).to_contain_text(f"fast linear probe at deepest labels, on {total} labeled")
    rid = int(re.search(r"Queued run #(\d+)", flash.inner_text()).group(1))  # type: ignore[union-attr]

    open_tab(page, "Training")  # the form sends the manager back to the overview
    page.evaluate(WATCH_JS)
    runs = page.get_by_role("table", name="Training runs, newest first")
    row = runs.get_by_role("row").filter(has=page.get_by_role("link", name=f"#{rid}", exact=True))
    expect(row).to_have_count(1)
    status = row.get_by_role("cell").nth(3)
    ended = re.compile(r"^\s*(succeeded|failed|cancelled)\s*$")
    expect(status).to_have_text(ended, timeout=RUN_TIMEOUT_MS)
    if status.inner_text().strip() != "succeeded":
        error = page.request.get(f"/api/v1/training-runs/{rid}").json()["error"]
        pytest.fail(f"Run #{rid} ended {status.inner_text().strip()}: {error}")
    expect(row.get_by_role("progressbar", name=f"Run #{rid} progress")).to_have_attribute(
        "value", "100"
    )
    expect(row).to_contain_text(re.compile(r"0\.\d{3}|1\.000"))  # accuracy and macro-F1
    statuses = page.evaluate("window.__statuses")
    assert statuses is not None, "the page was reloaded"  # a reload forgets WATCH_JS
    assert statuses[-1:] == ["succeeded"], statuses  # the list refreshed itself in place
    assert training.get_by_role("button", name=f"Cancel run #{rid}").count() == 0
    expect(training.get_by_role("figure")).to_contain_text("Learning curve")

    row.get_by_role("link", name=f"#{rid}", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/projects/{pid}/runs/{rid}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Run #{rid}: fast linear probe, deepest labels"
    )
    metrics = page.get_by_role("region", name="Metrics")
    expect(metrics).to_contain_text(re.compile(r"Accuracy\s*(0\.\d{3}|1\.000)"))
    expect(metrics).to_contain_text(re.compile(r"Macro-F1\s*(0\.\d{3}|1\.000)"))
    matrix = metrics.get_by_role(
        "table", name="Confusion matrix: labels in rows, predictions in columns"
    )
    headers = [t.strip() for t in matrix.get_by_role("columnheader").all_inner_texts()]
    assert headers[-len(SPECIES) :] == list(SPECIES), headers
    for species in SPECIES:
        cells = matrix.get_by_role("row").filter(
            has=page.get_by_role("rowheader", name=species, exact=True)
        )
        counts = [int(t) for t in cells.get_by_role("cell").all_inner_texts()]
        assert sum(counts) == PER_SPECIES, (species, counts)  # every photo was judged once

    # A cell opens its images under the matrix; each thumbnail leads to its image.
    daisy = matrix.get_by_role("link", name=re.compile(r"^\d+ labeled daisy, predicted daisy$"))
    shown = int(daisy.inner_text())
    daisy.click()
    images = page.get_by_role("list", name="Images labeled daisy and predicted daisy")
    expect(images.get_by_role("listitem")).to_have_count(shown)
    expect(images.get_by_role("link").first).to_have_attribute("href", re.compile(r"^/images/\d+$"))
    for name, format in (
        ("ONNX", "onnx"),
        ("ONNX int8", "onnx-int8"),
        ("TorchScript", "torchscript"),
    ):
        expect(metrics.get_by_role("link", name=name, exact=True)).to_have_attribute(
            "href", f"/api/v1/training-runs/{rid}/model?format={format}"
        )

    schemes: tuple[tuple[Literal["light", "dark"], str], ...] = (
        ("light", "desktop"),
        ("dark", "phone"),
    )
    for scheme, viewport in schemes:
        context = browser.new_context(
            base_url=base_url, color_scheme=scheme, viewport=VIEWPORTS[viewport]
        )
        try:
            other = context.new_page()
            log_in(other)
            other.goto(f"/projects/{pid}/runs/{rid}")
            expect(other.get_by_role("region", name="Metrics")).to_be_visible()
            check_and_shoot(other, shots_dir, f"run-{viewport}-{scheme}")
            other.goto(f"/projects/{pid}")
            expect(other.get_by_role("figure")).to_contain_text("Learning curve")
            check_and_shoot(other, shots_dir, f"dashboard-{viewport}-{scheme}")
        finally:
            context.close()
