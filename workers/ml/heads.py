"""The heads a linear-mode run can fit on cached embeddings, behind one interface.

- ``logreg``: multinomial logistic regression (``linear``), the default;
- ``svm``: a linear SVM with Platt-calibrated probabilities (``svm``);
- ``mlp``: one hidden layer with dropout, stopped early (``mlp``).

Each fitted head is a dataclass of arrays with ``classes`` (sorted: the probability
columns' order); ``predict_proba`` is numpy, and ``module`` gives the same computation
as a torch module (features -> probabilities) for the exported model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from workers.ml import linear, mlp, svm
from workers.ml.export import UnitRows

HEADS = ("logreg", "svm", "mlp")
HeadModel = linear.LinearModel | svm.SvmModel | mlp.MlpModel
# Which run parameters each head reads; the others do not apply to it.
DEFAULT_C = {"logreg": linear.DEFAULT_C, "svm": svm.DEFAULT_C}


def _check(name: str) -> None:
    if name not in HEADS:
        raise ValueError(f"unknown head {name!r}; expected one of {', '.join(HEADS)}")


def fit_head(
    name: str,
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    seed: int = 0,
    C: float | None = None,
    device: torch.device | str = "cpu",
) -> HeadModel:
    """Fit the named head. ``C`` applies to logreg and svm (None: the head's default);
    ``device`` to the MLP, the only head trained with torch."""
    _check(name)
    if name == "logreg":
        return linear.fit_linear(X, y, C=DEFAULT_C[name] if C is None else C, seed=seed)
    if name == "svm":
        return svm.fit_svm(X, y, C=DEFAULT_C[name] if C is None else C, seed=seed)
    return mlp.fit_mlp(X, y, seed=seed, device=device)


def predict_proba(model: HeadModel, X: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """float32 (n, k) probabilities, columns in ``model.classes`` order."""
    if isinstance(model, linear.LinearModel):
        return linear.predict_proba(model, X)
    return model.predict_proba(X)


def module(model: HeadModel) -> nn.Module:
    """Features -> probabilities as a torch module, on the CPU, in eval mode."""
    if isinstance(model, svm.SvmModel):
        return svm.module(model)
    if isinstance(model, mlp.MlpModel):
        return mlp.module(model)
    head = nn.Linear(model.coef.shape[1], model.coef.shape[0])
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(model.coef))
        head.bias.copy_(torch.from_numpy(model.intercept))
    return nn.Sequential(UnitRows(), head, nn.Softmax(dim=1)).eval()


def params(name: str, C: float | None = None) -> dict[str, Any]:
    """The settings the named head used, as the run records them."""
    _check(name)
    if name in DEFAULT_C:
        return {"C": DEFAULT_C[name] if C is None else C}
    return {"hidden": mlp.HIDDEN, "dropout": mlp.DROPOUT}


def cross_val_proba(
    name: str,
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    folds: int = 5,
    seed: int = 0,
    C: float | None = None,
    device: torch.device | str = "cpu",
    progress: Callable[[float], None] | None = None,
) -> npt.NDArray[np.float32]:
    """Out-of-fold probabilities of the named head (the folds of
    ``linear.cross_val_proba``); for logreg exactly that function's numbers.
    ``progress(fraction)`` is called after each fold: a run's cancel is seen there
    rather than after every fold of a slow head."""
    _check(name)
    labels = np.asarray(y)
    smallest = int(np.unique(labels, return_counts=True)[1].min()) if len(labels) else 0
    total = max(2, min(folds, smallest))  # as linear.cross_val_proba caps them
    done = 0

    def fit_proba(
        train_x: npt.NDArray[Any], train_y: npt.NDArray[Any], test_x: npt.NDArray[Any]
    ) -> npt.NDArray[Any]:
        nonlocal done
        model = fit_head(name, train_x, train_y, seed=seed, C=C, device=device)
        probs = predict_proba(model, test_x)
        done += 1
        if progress is not None:
            progress(min(1.0, done / total))
        return probs

    return linear.cross_val_proba(X, labels, folds=folds, seed=seed, fit_proba=fit_proba)
