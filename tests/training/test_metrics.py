"""RunMetrics: what the worker stores is exactly what it always stored (the API returns it
as it is), a figure of the wrong type is refused on the way in, and rows written by older
versions or by hand are read back as far as they can be, on the run page too."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.auth.models import User
from app.db import utcnow
from app.training.metrics import RunMetrics, read
from app.training.models import RunMode, RunStatus, TrainingRun
from tests.conftest import ClientFor
from tests.labeling.helpers import arrange
from workers.ml.metrics import classification_metrics

HISTORY = [
    {"epoch": 1, "train_loss": 1.25, "val_loss": 0.9, "val_accuracy": 0.5},
    {"epoch": 2, "train_loss": 0.5, "val_loss": 0.75, "val_accuracy": 0.75},
]


def _evaluated() -> dict[str, object]:
    return classification_metrics([1, 1, 2, 2], [1, 2, 2, 2], [1, 2], ["wine", "beer"])


def test_a_linear_run_s_metrics_are_stored_key_for_key_as_the_evaluation_gave_them() -> None:
    evaluated = _evaluated()
    stored = RunMetrics.model_validate(evaluated).stored()
    assert stored == evaluated
    assert list(stored) == ["accuracy", "macro_f1", "per_class", "confusion_matrix", "labels"]
    assert stored["confusion_matrix"] == [[1, 1], [0, 2]]
    assert stored["per_class"] == {
        "wine": {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2},
        "beer": {"precision": pytest.approx(2 / 3), "recall": 1.0, "f1": 0.8, "support": 2},
    }


def test_a_fine_tuned_run_adds_its_epochs_and_the_one_it_kept() -> None:
    written = {**_evaluated(), "history": HISTORY, "best_epoch": 2}
    metrics = RunMetrics.model_validate(written)
    assert metrics.stored() == written
    assert [e.val_accuracy for e in metrics.history or []] == [0.5, 0.75]
    assert read(metrics.stored()) == metrics


@pytest.mark.parametrize(
    "bad",
    [
        {"accuracy": "high"},
        {"acuracy": 0.5},  # a misspelt key would vanish from the API
        {"per_class": {"wine": {"f1": 0.5, "support": "many"}}},
        {"confusion_matrix": [[1, "x"]]},
        {"history": [{"epoch": 1, "val_acc": 0.5}]},
        {"history": ["epoch one"]},
    ],
)
def test_the_worker_cannot_store_a_figure_of_the_wrong_shape(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RunMetrics.model_validate({**_evaluated(), **bad})


def test_no_metrics_read_as_empty_ones() -> None:
    nothing: object
    for nothing in (None, [], "0.9"):
        assert read(nothing) == RunMetrics()
    assert read(None).accuracy is None


def test_an_old_or_hand_edited_row_is_read_as_far_as_it_goes() -> None:
    old = {
        "accuracy": 0.9,
        "macro_f1": "n/a",  # unreadable: shown as missing
        "kappa": 0.7,  # a key this version does not know
        "per_class": {"wine": {"f1": 0.8, "support": None}, "beer": {"precision": 1}},
        "confusion_matrix": [[1, 0], [0, "2"]],
        "history": [{"train_loss": 1.0, "val_acc": 0.4}, "garbage", {"epoch": 3, "val_loss": 2}],
        "best_epoch": "two",
    }
    metrics = read(old)
    assert (metrics.accuracy, metrics.macro_f1, metrics.best_epoch) == (0.9, None, None)
    assert metrics.per_class["wine"].f1 == 0.8
    assert metrics.per_class["wine"].support == 0
    assert metrics.per_class["beer"].precision == 1.0
    assert metrics.per_class["beer"].f1 is None
    assert metrics.confusion_matrix == [[1, 0], [0, 2]]
    assert [(e.epoch, e.train_loss, e.val_loss, e.val_accuracy) for e in metrics.history or []] == [
        (None, 1.0, None, None),  # the old "val_acc" key is not read
        (3, None, 2.0, None),
    ]
    assert metrics.labels == []
    assert read({"accuracy": 0.9}) == RunMetrics(accuracy=0.9)


def _run(db: Session, pid: int, metrics: dict[str, object] | None, **fields: object) -> int:
    run = TrainingRun(
        project_id=pid, mode=fields.pop("mode", RunMode.linear), backbone="efficientnet_lite0",
        status=RunStatus.succeeded, phase="done", progress=1.0, metrics=metrics,
        finished_at=utcnow(), heartbeat_at=utcnow(), **fields,
    )  # fmt: skip
    db.add(run)
    db.commit()
    return run.id


def test_the_api_returns_the_stored_metrics_with_no_keys_added(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    api = api_as(admin)
    s = arrange(api, images=0)
    stored = RunMetrics.model_validate(_evaluated()).stored()
    rid = _run(db, s.pid, stored, classes=[[1, "wine"], [2, "beer"]])
    body = api.get(f"/api/v1/training-runs/{rid}").json()
    assert body["metrics"] == stored
    assert "history" not in body["metrics"]


def test_the_run_page_shows_an_old_row_s_figures_and_dashes_for_the_rest(
    api_as: ClientFor, browser_as: ClientFor, admin: User, db: Session
) -> None:
    s = arrange(api_as(admin), images=0)
    web: TestClient = browser_as(admin)
    sparse = _run(db, s.pid, {"accuracy": 0.9}, label_count=40)
    page = web.get(f"/projects/{s.pid}/runs/{sparse}")
    assert page.status_code == 200
    assert "<dt>Accuracy</dt><dd>0.900</dd>" in page.text
    assert "<dt>Macro-F1</dt><dd>—</dd>" in page.text
    assert "Per class" not in page.text
    assert '<table class="confusion">' not in page.text

    odd = {
        "accuracy": 0.75,
        "macro_f1": 0.7,
        "per_class": {"wine": {"f1": 0.8, "support": None}},
        "history": ["garbage", {"train_loss": 1.0, "val_loss": 0.5, "val_acc": 0.6}],
        "best_epoch": 2,
    }
    tuned = _run(db, s.pid, odd, mode=RunMode.finetune)
    html = web.get(f"/projects/{s.pid}/runs/{tuned}").text
    assert re.search(r'<th scope="row">wine</th><td>—</td><td>—</td><td>0.800</td><td>0</td>', html)
    epochs = html.split('id="history-heading"', 1)[1].split("</table>", 1)[0]
    # The stray entry is skipped; the other is epoch 1 by position, not the kept epoch 2.
    assert re.findall(r'<th scope="row">(\d+)', epochs) == ["1"]
    assert "<td>1.000</td><td>0.500</td><td>—</td>" in epochs
    assert 'class="best"' not in epochs

    section = web.get(f"/projects/{s.pid}/training/_section").text
    assert f"#{sparse}</a>" in section  # the runs table reads it too
