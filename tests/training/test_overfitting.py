"""Over-fitting, shown: the two warning rules on histories that do and do not break
them, the epoch chart's geometry, the augmentation in words, and the run page that
shows all of it (stored histories, so each case is exact)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from torchvision import transforms

from app.auth.models import User
from app.training.epoch_chart import epoch_chart
from app.training.metrics import RunMetrics, read
from app.training.models import RunMode
from app.training.overfitting import gap_warning, rising_warning, warnings
from tests.conftest import ClientFor
from tests.training.test_pages import labeled, make_run
from workers.ml.augment_words import describe_augmentation
from workers.ml.backbones import get_spec
from workers.ml.classifier import training_transforms


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


@pytest.fixture
def web(browser_as: ClientFor, admin: User) -> TestClient:
    return browser_as(admin)


def history(*rows: tuple[float, float, float, float]) -> list[dict[str, float]]:
    """Rows of (train loss, train accuracy, validation loss, validation accuracy)."""
    return [
        {"epoch": n, "train_loss": tl, "train_accuracy": ta, "val_loss": vl, "val_accuracy": va}
        for n, (tl, ta, vl, va) in enumerate(rows, start=1)
    ]


def metrics(rows: list[dict[str, float]], best: int | None) -> RunMetrics:
    return RunMetrics.model_validate({"history": rows, "best_epoch": best})


CALM = history((1.0, 0.60, 0.9, 0.58), (0.6, 0.80, 0.5, 0.75), (0.4, 0.86, 0.45, 0.80))


def test_a_calm_history_breaks_no_rule() -> None:
    assert warnings(metrics(CALM, 3)) == []


def test_the_gap_rule_reads_the_kept_epoch() -> None:
    wide = history((1.0, 0.70, 0.8, 0.65), (0.3, 0.97, 0.6, 0.80), (0.1, 1.0, 0.55, 0.82))
    found = gap_warning(read({"history": wide}).history or [], 2)
    assert found is not None
    assert found.rule == "gap"
    assert "the kept epoch (2)" in found.text
    assert "17.0 points" in found.text  # 97% - 80%
    # Kept at epoch 1, where the gap is 5 points: no warning, whatever came after.
    assert gap_warning(read({"history": wide}).history or [], 1) is None


def test_the_gap_rule_needs_more_than_ten_points() -> None:
    at_ten = history((0.5, 0.90, 0.6, 0.80))
    assert gap_warning(metrics(at_ten, 1).history or [], 1) is None
    over = history((0.5, 0.905, 0.6, 0.80))
    assert gap_warning(metrics(over, 1).history or [], 1) is not None


def test_without_a_kept_epoch_the_gap_rule_says_it_read_the_last() -> None:
    rows = history((1.0, 0.6, 0.9, 0.6), (0.2, 0.99, 0.7, 0.7))
    found = gap_warning(metrics(rows, None).history or [], None)
    assert found is not None
    assert "the last epoch (2)" in found.text


def test_an_older_run_without_training_accuracy_has_no_gap_to_judge() -> None:
    rows = [{"epoch": 1, "train_loss": 0.1, "val_loss": 0.9, "val_accuracy": 0.2}]
    assert gap_warning(metrics(rows, 1).history or [], 1) is None


@pytest.mark.parametrize(
    ("losses", "fires"),
    [
        ([0.9, 0.5, 0.6, 0.7], True),  # up, up
        ([0.9, 0.5, 0.6, 0.55, 0.58], False),  # up, down, up: never two in a row
        ([0.9, 0.5, 0.5, 0.5], False),  # flat is not rising
        ([0.9, 0.6], False),  # too short to rise twice
        ([0.4, 0.5, 0.6], True),  # from the first epoch
    ],
)
def test_the_rising_rule_needs_two_rises_in_a_row(losses: list[float], fires: bool) -> None:
    rows = history(*[(0.3, 0.8, v, 0.8) for v in losses])
    found = rising_warning(metrics(rows, 2).history or [], 2)
    assert (found is not None) is fires


def test_the_rising_rule_names_the_epochs_and_where_early_stopping_kept() -> None:
    rows = history(*[(0.3, 0.8, v, 0.8) for v in (0.9, 0.5, 0.6, 0.7)])
    found = rising_warning(metrics(rows, 2).history or [], 2)
    assert found is not None
    assert "from epoch 2 to 4 (0.500 → 0.600 → 0.700)" in found.text
    assert "Early stopping kept epoch 2, before the rise." in found.text


def test_the_chart_marks_the_kept_epoch_and_plots_every_value() -> None:
    chart = epoch_chart(metrics(CALM, 2))
    assert chart is not None
    assert chart.kept == 2
    loss, accuracy = chart.panels
    assert [s.name for s in loss.series] == ["Training", "Validation"]
    assert [len(s.points) for s in accuracy.series] == [3, 3]
    kept = next(p for p in loss.series[0].points if p.epoch == 2)
    assert loss.kept_x == kept.x
    # Higher values sit higher on the chart (smaller y).
    val = {p.epoch: p.y for p in accuracy.series[1].points}
    assert val[3] < val[2] < val[1]
    assert accuracy.y_ticks[-1].text == "1.0"
    assert "epoch 2 was kept" in loss.summary


def test_a_linear_run_has_no_epoch_chart() -> None:
    assert epoch_chart(RunMetrics()) is None
    assert warnings(RunMetrics()) == []


def test_the_augmentation_is_said_from_the_transforms_themselves() -> None:
    words = describe_augmentation(training_transforms(get_spec("efficientnet_lite0")))
    assert words.startswith("a random crop of 35% to 100% of the picture's area")
    assert "resized to 224 px" in words
    assert "a left-right flip 50% of the time" in words
    assert "colour jitter (brightness ±20%, contrast ±20%, saturation ±20%, hue ±7°)" in words
    other = transforms.Compose(
        [transforms.RandomResizedCrop(299, scale=(0.5, 0.9)), transforms.RandomVerticalFlip(0.25)]
    )
    assert describe_augmentation(other) == (
        "a random crop of 50% to 90% of the picture's area (aspect 0.75 to 1.33), resized to "
        "299 px and an upside-down flip 25% of the time"
    )


def _tuned(db: Session, pid: int, rows: list[dict[str, float]], best: int, **extra: Any) -> int:
    run = make_run(
        db, pid, mode=RunMode.finetune, classes=[(1, "wine"), (2, "beer")],
        matrix=[[1, 0], [0, 1]], accuracy=0.8, macro_f1=0.8, **extra,
    )  # fmt: skip
    run.metrics = {**(run.metrics or {}), "history": rows, "best_epoch": best}
    db.commit()
    return run.id


def test_the_run_page_shows_the_chart_the_kept_epoch_the_augmentation_and_the_warning(
    api: TestClient, web: TestClient, db: Session
) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    rows = history(
        (1.0, 0.70, 0.8, 0.65), (0.3, 0.97, 0.6, 0.80), (0.1, 1.0, 0.7, 0.78), (0.05, 1.0, 0.9, 0.7)
    )
    rid = _tuned(db, s.pid, rows, 2, report={"augmentation": "a left-right flip, nothing else"})
    html = web.get(f"/projects/{s.pid}/runs/{rid}").text
    warning = html.split('class="overfit-warning"', 1)[1].split("</div>", 1)[0]
    assert "this run may be over-fitting" in warning
    assert re.search(r'data-rule="gap">At the kept epoch \(2\), training accuracy', warning)
    assert 'data-rule="rising">Validation loss rose 2 epochs in a row, from epoch 2 to 4' in warning
    assert "Early stopping kept the weights of epoch 2" in html
    assert "epochs 3 to 4 did not beat it" in html
    assert "Augmentation (training images only, new each epoch): a left-right flip" in html
    assert html.count('class="kept-epoch"') == 3  # both charts and the legend
    for key, title in (("loss", "Loss"), ("accuracy", "Accuracy")):
        assert f'aria-labelledby="epochs-{key}-title epochs-{key}-desc"' in html
        assert f'<figcaption id="epochs-{key}-title">{title} per epoch</figcaption>' in html
    assert len(re.findall(r'class="epoch-point epoch-val"[^>]*data-epoch="\d"', html)) == 8
    assert "The Epochs table below lists every value." in html
    table = html.split('id="history-heading"', 1)[1].split("</table>", 1)[0]
    assert re.search(
        r'<tr class="best"><th scope="row">2 <span class="badge">best, kept</span></th>'
        r"<td>0.300</td><td>0.600</td><td>0.800</td><td>0.970</td>",
        table,
    )


def test_a_run_that_fits_well_shows_no_warning(
    api: TestClient, web: TestClient, db: Session
) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    rid = _tuned(db, s.pid, CALM, 3)
    html = web.get(f"/projects/{s.pid}/runs/{rid}").text
    assert "overfit-warning" not in html
    assert 'class="epoch-svg' in html or "epoch-svg" in html
    assert "did not beat it" not in html  # the last epoch was the kept one


def test_the_folds_parameter_agrees_with_the_evaluation_line(
    api: TestClient, web: TestClient, db: Session
) -> None:
    s = labeled(api, {"wine": 3, "beer": 4})
    capped = make_run(
        db, s.pid, classes=[(1, "wine"), (2, "beer")], matrix=[[3, 0], [0, 4]], accuracy=1.0,
        macro_f1=1.0, params={"C": 1.0, "folds": 5},
        report={"evaluation": "3-fold cross-validation", "folds_used": 3, "smallest_class": 3},
    )  # fmt: skip
    html = web.get(f"/projects/{s.pid}/runs/{capped.id}").text
    assert "<dt>Folds</dt><dd>5 asked, 3 used: the smallest class has 3 labels</dd>" in html
    assert (
        "Evaluated by 3-fold cross-validation (5 folds asked, 3 used: the smallest class has 3 "
        "labeled images, and each fold holds out at least one of every class)." in html
    )
    assert "Folds used" not in html
    assert "Smallest class" not in html
    plain = make_run(
        db, s.pid, classes=[(1, "wine"), (2, "beer")], matrix=[[3, 0], [0, 4]], accuracy=1.0,
        macro_f1=1.0, params={"C": 1.0, "folds": 3},
        report={"evaluation": "3-fold cross-validation", "folds_used": 3, "smallest_class": 3},
    )  # fmt: skip
    html = web.get(f"/projects/{s.pid}/runs/{plain.id}").text
    assert "<dt>Folds</dt><dd>3</dd>" in html
    assert "Evaluated by 3-fold cross-validation." in html
    # A row without the folds asked (hand-edited, or older) claims nothing it cannot back.
    bare = make_run(
        db, s.pid, classes=[(1, "wine"), (2, "beer")], matrix=[[3, 0], [0, 4]], accuracy=1.0,
        macro_f1=1.0, params={"C": 1.0, "folds": "five"},
        report={"evaluation": "3-fold cross-validation", "folds_used": 3, "smallest_class": 3},
    )  # fmt: skip
    html = web.get(f"/projects/{s.pid}/runs/{bare.id}").text
    assert "<dt>Folds</dt><dd>five</dd>" in html
    assert "Evaluated by 3-fold cross-validation." in html
