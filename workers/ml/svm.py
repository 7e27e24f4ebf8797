"""The linear SVM head: ``LinearSVC`` on unit-length rows, with Platt-calibrated
probabilities so that confidence, uncertainty and active learning read it like the
logistic probe.

The calibration is what ``CalibratedClassifierCV(method="sigmoid", ensemble=False)``
does: decision values of each row from a model that did not see it (stratified inner
folds), one sigmoid per class fitted on them one-vs-rest, and the SVM itself fitted on
all rows. The fitted model is arrays only (no scikit-learn object to pickle), and
prediction is numpy: one matrix product, the sigmoids, and a normalisation.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from scipy.optimize import minimize  # type: ignore[import-untyped]
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits
from torch import nn

from workers.ml.export import UnitRows
from workers.ml.linear import unit_rows

# On unit-length Lite0 embeddings of flowers12 species (train -> test, 3 seeds), C from
# 0.1 to 10 scored 0.933-0.939 with 10 labels per class and 0.961-0.975 with all 720;
# 1 is LinearSVC's own default, mid-range. Not tuned further on the test split.
DEFAULT_C = 1.0
# Inner folds for the calibration: each fit costs this many more SVM fits, and a run's
# cross-validation fits the head once per fold (scikit-learn's default is 5).
CALIBRATION_FOLDS = 3
_SCALE_AT = 30.0  # decision values beyond this are scaled for the fit (as scikit-learn)


@dataclass
class SvmModel:
    """P(class j) = sigmoid(-(a_j * f_j + b_j)) normalised over classes, where
    f = unit(X) @ coef.T + intercept. Two classes: one decision column (for
    ``classes[1]``), P(classes[0]) = 1 - P(classes[1])."""

    classes: npt.NDArray[Any]  # sorted; the probability columns' order
    coef: npt.NDArray[np.float32]  # (k, d), or (1, d) for two classes
    intercept: npt.NDArray[np.float32]  # (k,) or (1,)
    platt_a: npt.NDArray[np.float32]  # one per decision column
    platt_b: npt.NDArray[np.float32]

    def predict_proba(self, X: npt.ArrayLike) -> npt.NDArray[np.float32]:
        return predict_proba(self, X)


def _svc(C: float, class_weight: str | None, seed: int, max_iter: int) -> LinearSVC:
    return LinearSVC(C=C, class_weight=class_weight, random_state=seed, max_iter=max_iter)


def _decisions(classifier: LinearSVC, rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    values = np.asarray(classifier.decision_function(rows), dtype=np.float64)
    return values.reshape(len(rows), -1)


def fit_svm(
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    C: float = DEFAULT_C,
    class_weight: str | None = "balanced",
    seed: int = 0,
    max_iter: int = 2000,
    calibration_folds: int = CALIBRATION_FOLDS,
) -> SvmModel:
    """A one-vs-rest linear SVM with per-class Platt sigmoids from out-of-fold decisions."""
    features = unit_rows(np.asarray(X))
    labels = np.asarray(y)
    if features.ndim != 2 or len(features) != len(labels):
        raise ValueError(
            f"X must be (n, d) with one label per row; got {features.shape}, {labels.shape}"
        )
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {len(classes)}")
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)  # usable; CV says how usable
        oof = _out_of_fold(
            features, labels, min(calibration_folds, int(counts.min())), C, class_weight, seed,
            max_iter,
        )  # fmt: skip
        classifier = _svc(C, class_weight, seed, max_iter).fit(features, labels)
        if oof is None:
            # A class with one row cannot be held out: calibrate on the model's own
            # decisions (over-confident, but the only ones there are).
            oof = _decisions(classifier, features)
    positive = [labels == classes[-1]] if len(classes) == 2 else [labels == c for c in classes]
    fitted = [_platt(oof[:, j], hits) for j, hits in enumerate(positive)]
    return SvmModel(
        classes=classes,
        coef=np.asarray(classifier.coef_, dtype=np.float32),
        intercept=np.asarray(classifier.intercept_, dtype=np.float32).reshape(-1),
        platt_a=np.array([a for a, _ in fitted], dtype=np.float32),
        platt_b=np.array([b for _, b in fitted], dtype=np.float32),
    )


def _out_of_fold(
    features: npt.NDArray[np.float32],
    labels: npt.NDArray[Any],
    folds: int,
    C: float,
    class_weight: str | None,
    seed: int,
    max_iter: int,
) -> npt.NDArray[np.float64] | None:
    if folds < 2:
        return None
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    out: npt.NDArray[np.float64] | None = None
    for train, test in splitter.split(np.zeros(len(labels)), labels):
        fold = _svc(C, class_weight, seed, max_iter).fit(features[train], labels[train])
        values = _decisions(fold, features[test])
        if out is None:
            out = np.zeros((len(labels), values.shape[1]))
        out[test] = values
    return out


def _platt(decisions: npt.NDArray[np.float64], hits: npt.NDArray[np.bool_]) -> tuple[float, float]:
    """Platt's sigmoid P = 1 / (1 + exp(a f + b)), fitted with his smoothed targets."""
    scale = max(1.0, float(np.abs(decisions).max(initial=0.0)))
    f = decisions / scale if scale >= _SCALE_AT else decisions
    scale = scale if scale >= _SCALE_AT else 1.0
    positives = float(hits.sum())
    negatives = len(hits) - positives
    target = np.where(hits, (positives + 1.0) / (positives + 2.0), 1.0 / (negatives + 2.0))

    def loss_grad(ab: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        raw = -(ab[0] * f + ab[1])  # log-odds of the positive class
        # Binary log loss in a form that cannot overflow: log(1 + e^r) - t r.
        loss = float(np.sum(np.logaddexp(0.0, raw) - target * raw))
        residual = 1.0 / (1.0 + np.exp(-raw)) - target  # d loss / d raw
        return loss, np.array([-(residual @ f), -residual.sum()])

    start = np.array([0.0, math.log((negatives + 1.0) / (positives + 1.0))])
    found = minimize(
        loss_grad, start, method="L-BFGS-B", jac=True,
        options={"gtol": 1e-6, "ftol": 64 * np.finfo(float).eps},
    )  # fmt: skip
    return float(found.x[0]) / scale, float(found.x[1])


def calibrated(model: SvmModel, decisions: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """Decision values (n, columns) -> probabilities (n, k), as CalibratedClassifierCV."""
    raw = -(np.asarray(decisions, dtype=np.float32) * model.platt_a + model.platt_b)
    # Clipped: float32 cannot hold e^89, and beyond 80 the sigmoid is 0 or 1 anyway.
    sig: npt.NDArray[np.float32] = 1.0 / (1.0 + np.exp(-np.clip(raw, -80.0, 80.0)))
    if len(model.classes) == 2:
        return np.hstack([1.0 - sig, sig]).astype(np.float32)
    total = sig.sum(axis=1, keepdims=True)
    out = np.full_like(sig, 1.0 / len(model.classes))
    np.divide(sig, total, out=out, where=total > 0)
    return out


def predict_proba(model: SvmModel, X: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """float32 (n, k) probabilities, columns in ``model.classes`` order; numpy only."""
    rows = unit_rows(np.asarray(X))
    with threadpool_limits(1):
        decisions: npt.NDArray[np.float32] = rows @ model.coef.T + model.intercept
    return calibrated(model, decisions)


class SvmHead(nn.Module):
    """Features -> probabilities in torch: ``predict_proba`` as a module to export."""

    def __init__(self, model: SvmModel) -> None:
        super().__init__()
        self.unit = UnitRows()
        self.decision = nn.Linear(model.coef.shape[1], model.coef.shape[0])
        with torch.no_grad():
            self.decision.weight.copy_(torch.from_numpy(model.coef))
            self.decision.bias.copy_(torch.from_numpy(model.intercept))
        self.register_buffer("a", torch.from_numpy(model.platt_a.copy()))
        self.register_buffer("b", torch.from_numpy(model.platt_b.copy()))
        self.binary = len(model.classes) == 2
        self.k = len(model.classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        decisions = self.decision(self.unit(x))
        sig = torch.sigmoid(-(decisions * self.a + self.b))
        if self.binary:  # fixed when the module is built: no branch in the exported graph
            return torch.cat([1.0 - sig, sig], dim=1)
        total = sig.sum(dim=1, keepdim=True)
        uniform = torch.full_like(sig, 1.0 / self.k)
        return torch.where(total > 0, sig / total.clamp_min(1e-30), uniform)


def module(model: SvmModel) -> nn.Module:
    return SvmHead(model).eval()
