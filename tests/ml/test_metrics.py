"""Evaluation figures on a hand-made example, checked by hand."""

from __future__ import annotations

import json

import pytest

from workers.ml.metrics import classification_metrics


def test_a_hand_made_example() -> None:
    # labels 10=cat, 20=dog, 30=fox; rows of the matrix are true classes.
    y_true = [10, 10, 10, 20, 20, 30]
    y_pred = [10, 10, 20, 20, 10, 30]
    m = classification_metrics(y_true, y_pred, [10, 20, 30], ["cat", "dog", "fox"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert m["labels"] == ["cat", "dog", "fox"]
    per_class = m["per_class"]
    assert isinstance(per_class, dict)
    assert per_class["cat"] == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3}
    )
    assert per_class["dog"] == pytest.approx(
        {"precision": 1 / 2, "recall": 1 / 2, "f1": 1 / 2, "support": 2}
    )
    assert per_class["fox"] == pytest.approx(
        {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    )
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    json.dumps(m)  # stored as JSON on the run's row


def test_the_matrix_follows_the_given_label_order() -> None:
    m = classification_metrics([1, 2, 2], [2, 2, 2], [2, 1], ["two", "one"])
    assert m["confusion_matrix"] == [[2, 0], [1, 0]]
    assert m["labels"] == ["two", "one"]


def test_a_class_absent_from_the_evaluation_does_not_drag_macro_f1() -> None:
    m = classification_metrics([1, 1, 2], [1, 1, 2], [1, 2, 3], ["a", "b", "c"])
    assert m["macro_f1"] == pytest.approx(1.0)
    per_class = m["per_class"]
    assert isinstance(per_class, dict)
    assert per_class["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="names"):
        classification_metrics([1], [1], [1, 2], ["a"])
    with pytest.raises(ValueError, match="predictions"):
        classification_metrics([1, 2], [1], [1, 2], ["a", "b"])


def test_nothing_evaluated_gives_zeros_not_an_error() -> None:
    m = classification_metrics([], [], [1, 2], ["a", "b"])
    assert m["accuracy"] == 0.0
    assert m["confusion_matrix"] == [[0, 0], [0, 0]]
    assert m["labels"] == ["a", "b"]
