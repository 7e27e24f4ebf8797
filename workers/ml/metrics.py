"""Evaluation figures of a trained classifier, in the shape the run report stores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support


def classification_metrics(
    y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[int], names: Sequence[str]
) -> dict[str, object]:
    """Accuracy, macro F1, per-class precision/recall/F1/support and the confusion matrix
    (rows = true class, columns = predicted class, both in ``labels`` order).

    Macro F1 averages over the classes that occur in ``y_true`` or ``y_pred``: a class
    with no example in the evaluation set and never predicted says nothing about the
    model, and counting it as F1 = 0 would understate every other class.
    Plain floats and ints only, so the result is JSON as it is.
    """
    truth = np.asarray(y_true)
    predicted = np.asarray(y_pred)
    label_list = list(labels)
    if len(label_list) != len(names):
        raise ValueError(f"{len(label_list)} labels but {len(names)} names")
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true labels but {len(predicted)} predictions")
    if len(truth) == 0:
        # Nothing was evaluated (e.g. every held-out image was unreadable): say so with
        # zeros rather than fail the whole run.
        return _empty(label_list, names)
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=label_list, zero_division=0
    )
    matrix = confusion_matrix(truth, predicted, labels=label_list)
    present = set(truth.tolist()) | set(predicted.tolist())
    seen = [i for i, label in enumerate(label_list) if label in present]
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(np.mean(f1[seen])) if seen else 0.0,
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(names)
        },
        "confusion_matrix": [[int(v) for v in row] for row in matrix],
        "labels": list(names),
    }


def _empty(labels: list[int], names: Sequence[str]) -> dict[str, object]:
    zero = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    return {
        "accuracy": 0.0,
        "macro_f1": 0.0,
        "per_class": {name: dict(zero) for name in names},
        "confusion_matrix": [[0] * len(labels) for _ in labels],
        "labels": list(names),
    }
