"""The fast training mode: logistic regression on cached embeddings.

Each embedding is scaled to unit length before it is fitted or predicted (cosine
geometry). Per-feature standardization was tried first and was much worse with few
labels: with a dozen labeled rows the per-feature statistics are noise, and dividing
by them turns near-constant, uninformative features into loud ones. On the flowers12
train split (random labeled rows, accuracy on the other train rows, 10 seeds) the probe
reached 0.50 / 0.70 / 0.85 at 12 / 24 / 48 labels with row normalization, against
0.33 / 0.58 / 0.78 with standardization; at 300 labels both give 0.96. Prediction is
one normalization, one matrix product and a softmax in numpy: no scikit-learn object to
pickle, and 100,000 rows take well under a second.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

_PREDICT_CHUNK = 8192  # rows converted to float32 at a time: bounded memory on float16 input
# lbfgs on a few thousand rows does many small matrix products, and prediction is one
# thin product; BLAS threads mostly add wake-up and spin costs there. One thread ran
# 5-10x faster on the 2-core machine when other processes were busy
# (bench/linear_probe.py), and a worker rarely has the machine to itself.
_FIT_BLAS_THREADS = 1
_MIN_NORM = 1e-12  # below this a row is treated as all zeros (no division by zero)
# The default inverse regularization strength. On unit-length rows, C from 1 to 100 gave
# the same mean accuracy within 0.1 point over 12-300 labels on the flowers12 train split
# (held-out train rows, 10 seeds); 10 sits in the middle of that plateau.
DEFAULT_C = 10.0
# Fits a head on (X_train, y_train) and gives X_test's probabilities, sorted class columns.
FitProba = Callable[[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]], npt.NDArray[Any]]


@dataclass
class LinearModel:
    """Probabilities = softmax(unit(X) @ coef.T + intercept), unit(x) = x / ||x||.

    For two classes ``coef`` has two rows (the first all zeros), so every model has one
    row per class and one code path.
    """

    classes: npt.NDArray[Any]  # the label values seen, sorted; the columns' order
    coef: npt.NDArray[np.float32]  # (k, d)
    intercept: npt.NDArray[np.float32]  # (k,)

    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": self.classes.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearModel:
        return cls(
            classes=np.asarray(data["classes"]),
            coef=np.asarray(data["coef"], dtype=np.float32),
            intercept=np.asarray(data["intercept"], dtype=np.float32),
        )


def unit_rows(X: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """Each row scaled to length 1, in float32; an all-zero row stays zero."""
    rows = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit: npt.NDArray[np.float32] = rows / np.maximum(norms, _MIN_NORM)
    return unit


def fit_linear(
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    C: float = DEFAULT_C,
    class_weight: str | None = "balanced",
    seed: int = 0,
    max_iter: int = 1000,
) -> LinearModel:
    """Multinomial logistic regression (lbfgs) on unit-length rows.

    ``class_weight="balanced"`` weighs each class by the inverse of its frequency, so a
    rare category still pulls on the decision boundary.
    """
    # The optimisation in float32: lbfgs keeps float32 input in float32, which halves
    # the memory traffic of every step; embeddings are stored as float16 anyway.
    features = np.asarray(X, dtype=np.float32)
    labels = np.asarray(y)
    if features.ndim != 2 or len(features) != len(labels):
        raise ValueError(
            f"X must be (n, d) with one label per row; got {features.shape}, {labels.shape}"
        )
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {len(classes)}")
    classifier = LogisticRegression(
        C=C, class_weight=class_weight, random_state=seed, max_iter=max_iter, solver="lbfgs"
    )
    with warnings.catch_warnings(), threadpool_limits(_FIT_BLAS_THREADS):
        # Not converging within max_iter still leaves a usable model; the caller's
        # cross-validation measures how usable.
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(unit_rows(features), labels)
    coef = classifier.coef_
    intercept = classifier.intercept_
    if len(classes) == 2:
        # Binary sklearn gives one row w for P(class 1) = sigmoid(w.x + b), which is
        # softmax over the rows [0, w].
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    return LinearModel(
        classes=classes,
        coef=coef.astype(np.float32),
        intercept=intercept.astype(np.float32),
    )


def predict_proba(model: LinearModel, X: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """float32 (n, k) probabilities, columns in ``model.classes`` order; numpy only."""
    rows = np.asarray(X)
    out = np.empty((len(rows), len(model.classes)), dtype=np.float32)
    weights = model.coef.T.astype(np.float32, copy=False)
    with threadpool_limits(_FIT_BLAS_THREADS):
        _predict_into(out, rows, weights, model.intercept)
    return out


def _predict_into(
    out: npt.NDArray[np.float32],
    rows: npt.NDArray[Any],
    weights: npt.NDArray[np.float32],
    intercept: npt.NDArray[np.float32],
) -> None:
    for start in range(0, len(rows), _PREDICT_CHUNK):
        chunk = unit_rows(rows[start : start + _PREDICT_CHUNK])
        logits = chunk @ weights
        logits += intercept
        logits -= logits.max(axis=1, keepdims=True)  # exp cannot overflow
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        out[start : start + len(chunk)] = logits


def predict(model: LinearModel, X: npt.ArrayLike) -> npt.NDArray[Any]:
    """The most probable label of each row (values from ``model.classes``)."""
    labels: npt.NDArray[Any] = model.classes[np.argmax(predict_proba(model, X), axis=1)]
    return labels


def cross_val_predict(
    X: npt.ArrayLike, y: npt.ArrayLike, *, folds: int = 5, seed: int = 0, **fit_kwargs: Any
) -> npt.NDArray[Any]:
    """Out-of-fold predicted labels: each row predicted by a model that never saw it.

    The argmax of ``cross_val_proba`` (see there for the folds).
    """
    labels = np.asarray(y)
    probs = cross_val_proba(X, labels, folds=folds, seed=seed, **fit_kwargs)
    predicted: npt.NDArray[Any] = np.unique(labels)[np.argmax(probs, axis=1)]
    return predicted


def cross_val_proba(
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    folds: int = 5,
    seed: int = 0,
    trainable: npt.ArrayLike | None = None,
    fit_proba: FitProba | None = None,
    **fit_kwargs: Any,
) -> npt.NDArray[np.float32]:
    """Out-of-fold class probabilities (n, k), columns in ``np.unique(y)`` order.

    Folds are stratified; their number is capped by the smallest class (a class must
    appear in every fold's training part to be learnable) but is at least 2. A class a
    fold's model never saw gets probability 0 in that fold's rows. ``trainable`` (a
    boolean mask) leaves the rows it marks False out of every fold's training part;
    they are still predicted (the label checker re-fits without suspected labels).
    ``fit_proba(X_train, y_train, X_test)`` fits any head and returns the test rows'
    probabilities (columns: the sorted classes of ``y_train``); by default the logistic
    probe with ``fit_kwargs``.
    """
    features = np.asarray(X)
    labels = np.asarray(y)
    classes, counts = np.unique(labels, return_counts=True)
    if len(counts) < 2:
        raise ValueError(f"cross-validation needs at least 2 classes, got {len(counts)}")
    n_folds = max(2, min(folds, int(counts.min())))
    if n_folds > len(labels):
        raise ValueError(f"cross-validation needs at least {n_folds} labeled rows")
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    out = np.zeros((len(labels), len(classes)), dtype=np.float32)
    with warnings.catch_warnings():
        # A class with a single member cannot be in every fold; sklearn warns, we accept.
        warnings.filterwarnings("ignore", message="The least populated class")
        splits = list(splitter.split(np.zeros(len(labels)), labels))

    usable = np.ones(len(labels), bool) if trainable is None else np.asarray(trainable, bool)

    def fold(train: npt.NDArray[np.intp], test: npt.NDArray[np.intp]) -> None:
        train = train[usable[train]]
        seen = np.unique(labels[train])
        columns = np.searchsorted(classes, seen)
        if len(seen) == 0:
            out[test] = 1.0 / len(classes)  # nothing to learn from: no class is favoured
            return
        if len(seen) < 2:
            # Only one class left to learn from: that class is the only possible answer.
            out[test, columns[0]] = 1.0
            return
        if fit_proba is None:
            model = fit_linear(features[train], labels[train], seed=seed, **fit_kwargs)
            out[np.ix_(test, columns)] = predict_proba(model, features[test])
        else:
            out[np.ix_(test, columns)] = fit_proba(features[train], labels[train], features[test])

    # Folds one after the other: two folds in parallel threads were no faster on the
    # 2-core machine under load, and a worker rarely has the machine to itself.
    with threadpool_limits(_FIT_BLAS_THREADS):
        for train, test in splits:
            fold(train, test)
    return out
