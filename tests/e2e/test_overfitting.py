"""Over-fitting, shown, in real Chromium against the real server and worker: a project
keeps a test split (set in its settings form), a small fine-tuning run (Lite0, 15
flowers12 photos, 3 epochs, batches of 4) is started from the training form, and its
page shows the loss and accuracy charts with their text alternative, the kept epoch,
the augmentation and the test scores apart, readable in light and dark.

The run's history decides whether the over-fitting warning is due, so this test checks
the page shows it exactly when the rules (app.training.overfitting, on the history the
API returns) say so. Whether a 3-epoch run on 15 photos breaks a rule is not
deterministic; the warning's words for each rule are pinned by
tests/training/test_overfitting.py on stored histories.
"""

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

from app.training.metrics import read
from app.training.overfitting import warnings
from tests.e2e.flows import create_project, log_in, open_tab, unique
from tests.e2e.layout_checks import axe_findings
from tests.e2e.test_images import drop, summary
from tests.e2e.test_layout import VIEWPORTS, check_and_shoot
from tests.support.datasets import FLOWERS12
from tests.support.env import require

pytestmark = pytest.mark.e2e

FLOWERS = FLOWERS12 / "train"
SPECIES = ("daisy", "iris", "sunflower")
PER_SPECIES = 5
EPOCHS = 3
RUN_TIMEOUT_MS = 400_000  # embedding, 3 epochs, predicting and the insights on 2 cores


def flowers_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for species in SPECIES:
            for path in sorted((FLOWERS / species).glob("*.jpg"))[:PER_SPECIES]:
                archive.write(path, f"{species}/{path.name}")
    return buffer.getvalue()


def test_a_fine_tuning_run_shows_its_epochs_kept_epoch_augmentation_and_test_split(
    page: Page, browser: Browser, base_url: str
) -> None:
    require(FLOWERS.is_dir(), f"The flowers12 dataset is missing: {FLOWERS}")
    shots_dir = Path(os.environ.get("CURATOR_E2E_SHOTS", Path(tempfile.gettempdir()) / "e2e-shots"))
    shots_dir.mkdir(parents=True, exist_ok=True)
    log_in(page)
    create_project(page, unique("Overfit"))
    pid = int(re.search(r"/projects/(\d+)$", page.url).group(1))  # type: ignore[union-attr]
    open_tab(page, "Add images")
    page.get_by_label("Label by folder names (ImageFolder zips)").check()
    drop(page, [("flowers.zip", flowers_zip())])
    total = len(SPECIES) * PER_SPECIES
    expect(summary(page)).to_contain_text(f"{total} imported, 0 duplicates, 0 errors.")

    page.reload()
    open_tab(page, "Settings")
    page.get_by_label(re.compile(r"^Test split \(share of labeled images")).fill("0.2")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Project saved.")).to_be_visible()
    assert page.request.get(f"/api/v1/projects/{pid}").json()["test_share"] == 0.2

    open_tab(page, "Training")
    form = page.get_by_role("form", name="Train a model")
    form.get_by_label("Mode", exact=True).select_option(label="Full fine-tuning")
    form.get_by_label("Backbone", exact=True).select_option("efficientnet_lite0")
    form.locator("summary", has_text="Advanced settings").click()
    form.get_by_label("Epochs", exact=True).fill(str(EPOCHS))
    form.get_by_label("Batch size", exact=True).fill("4")
    form.get_by_label("Patience", exact=True).fill(str(EPOCHS))
    form.get_by_role("button", name="Train").click()
    flash = page.get_by_role("status").filter(has_text="Queued run #")
    expect(flash).to_be_visible()
    rid = int(re.search(r"Queued run #(\d+)", flash.inner_text()).group(1))  # type: ignore[union-attr]

    page.goto(f"/projects/{pid}/runs/{rid}")
    status = page.get_by_role("region", name="Status").locator(".job")
    expect(status).to_have_text(re.compile(r"succeeded|failed|cancelled"), timeout=RUN_TIMEOUT_MS)
    run = page.request.get(f"/api/v1/training-runs/{rid}").json()
    assert run["status"] == "succeeded", run["error"]
    metrics = read(run["metrics"])
    history = metrics.history or []
    kept = metrics.best_epoch
    assert kept is not None
    assert 1 <= len(history) <= EPOCHS

    results = page.get_by_role("region", name="Metrics")
    for title in ("Loss", "Accuracy"):
        chart = results.get_by_role("img", name=re.compile(rf"^{title} per epoch"))
        expect(chart).to_be_visible()
        expect(chart).to_have_accessible_name(
            re.compile(rf"{title} over {len(history)} epoch\(s\).*epoch {kept} was kept")
        )
        # Two lines (training, validation), a point per epoch each, and the kept epoch.
        expect(chart.locator("circle.epoch-point")).to_have_count(2 * len(history))
        expect(chart.locator("line.kept-epoch")).to_have_count(1)
    # The text alternative: the epochs table, one row per epoch, the kept one marked.
    table = results.get_by_role("table", name=re.compile("Training history, one row per epoch"))
    expect(table.get_by_role("row")).to_have_count(len(history) + 1)
    best = table.get_by_role("row").filter(has_text="best, kept")
    expect(best).to_have_count(1)
    expect(best.get_by_role("rowheader")).to_have_text(re.compile(rf"^{kept}\b"))
    train_accuracy = history[kept - 1].train_accuracy
    assert train_accuracy is not None
    expect(best.get_by_role("cell").nth(3)).to_have_text(f"{train_accuracy:.3f}")
    expect(results).to_contain_text(f"Early stopping kept the weights of epoch {kept}")
    expect(results.locator("#augmentation")).to_contain_text(
        re.compile(r"Augmentation \(training images only, new each epoch\): a random crop of")
    )

    due = warnings(metrics)
    warning = results.get_by_role("note")
    if due:
        expect(warning).to_contain_text("this run may be over-fitting")
        for w in due:
            expect(warning.locator(f'li[data-rule="{w.rule}"]')).to_have_text(w.text)
    else:
        expect(warning).to_have_count(0)

    test = metrics.test
    assert test is not None
    assert test.share == 0.2
    if test.count:
        expect(results.get_by_role("heading", name=re.compile("^Test split"))).to_be_visible()
        expect(results).to_contain_text(re.compile(rf"Test images\s*{test.count}"))

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
            expect(other.get_by_role("img", name=re.compile("^Loss per epoch"))).to_be_visible()
            check_and_shoot(other, shots_dir, f"run-epochs-{viewport}-{scheme}")
            assert axe_findings(other) == [], scheme
        finally:
            context.close()
