"""The small MLP head: one hidden layer with dropout on unit-length embeddings, trained
with torch on the worker's device, stopped early on a held-out stratified fold.

The held-out fold only picks the number of epochs: the head is then trained again on
every row for that many epochs, because with a few dozen labels a fifth of them is too
much to leave out of the final model. Training is deterministic for a seed on the CPU
(the seed drives initialisation, shuffling and dropout). The fitted model is arrays;
prediction is numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import torch
from sklearn.model_selection import StratifiedShuffleSplit
from threadpoolctl import threadpool_limits
from torch import nn

from workers.ml.export import UnitRows
from workers.ml.linear import unit_rows

HIDDEN = 256
DROPOUT = 0.3
LR = 1e-3
WEIGHT_DECAY = 1e-4
BATCH = 64
MAX_EPOCHS = 200
PATIENCE = 10  # epochs without a lower held-out loss before stopping
HOLDOUT = 0.2  # share of the rows held out to choose the epochs
NO_HOLDOUT_EPOCHS = 50  # a class with a single row cannot be held out: a fixed budget
_PREDICT_CHUNK = 8192


@dataclass
class MlpModel:
    """P = softmax(w2 @ relu(w1 @ unit(x) + b1) + b2); w1 already carries the input
    scale (sqrt(d)) the network was trained with."""

    classes: npt.NDArray[Any]
    w1: npt.NDArray[np.float32]  # (hidden, d)
    b1: npt.NDArray[np.float32]  # (hidden,)
    w2: npt.NDArray[np.float32]  # (k, hidden)
    b2: npt.NDArray[np.float32]  # (k,)
    epochs: int  # how many epochs the final fit ran

    def predict_proba(self, X: npt.ArrayLike) -> npt.NDArray[np.float32]:
        return predict_proba(self, X)


def _network(dim: int, classes: int, hidden: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, classes)
    )


def fit_mlp(
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    hidden: int = HIDDEN,
    dropout: float = DROPOUT,
    lr: float = LR,
    max_epochs: int = MAX_EPOCHS,
    patience: int = PATIENCE,
) -> MlpModel:
    """Fit on unit-length rows scaled to unit variance per feature (x sqrt(d)), with
    class-balanced cross-entropy, Adam, and early stopping on a held-out fold."""
    rows = unit_rows(np.asarray(X))
    labels = np.asarray(y)
    if rows.ndim != 2 or len(rows) != len(labels):
        raise ValueError(f"X must be (n, d) with one label per row; got {rows.shape}")
    classes, index, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {len(classes)}")
    where = torch.device(device)
    scale = math.sqrt(rows.shape[1])
    features = torch.from_numpy(rows * scale).to(where)
    targets = torch.from_numpy(index.astype(np.int64)).to(where)
    weight = torch.from_numpy((len(labels) / (len(classes) * counts)).astype(np.float32))
    shape = (rows.shape[1], len(classes), hidden, dropout)
    # The global RNGs drive dropout; forked, so that the caller's streams are untouched.
    cuda = [where.index or 0] if where.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), threadpool_limits(1):
        problem = _Problem(features, targets, weight, shape, lr, seed)
        epochs = NO_HOLDOUT_EPOCHS
        if int(counts.min()) >= 2 and len(labels) >= 2 * len(classes):
            train, held = _holdout(index, seed)
            epochs = _best_epochs(problem, train, held, max_epochs, patience)
        net = _train_net(problem, np.arange(len(labels)), epochs)
    first, last = cast(nn.Linear, net[0]), cast(nn.Linear, net[3])
    return MlpModel(
        classes=classes,
        w1=(first.weight.detach().cpu().numpy() * scale).astype(np.float32),
        b1=first.bias.detach().cpu().numpy().astype(np.float32),
        w2=last.weight.detach().cpu().numpy().astype(np.float32),
        b2=last.bias.detach().cpu().numpy().astype(np.float32),
        epochs=epochs,
    )


def _holdout(index: npt.NDArray[np.intp], seed: int) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    k = int(index.max()) + 1
    size = max(k, round(HOLDOUT * len(index)))  # every class in the held-out fold
    split = StratifiedShuffleSplit(n_splits=1, test_size=size, random_state=seed)
    train, held = next(split.split(np.zeros(len(index)), index))
    return train, held


Shape = tuple[int, int, int, float]


@dataclass(frozen=True)
class _Problem:
    """What every training pass of one fit shares: the rows, the loss and the seed."""

    features: torch.Tensor
    targets: torch.Tensor
    weight: torch.Tensor
    shape: Shape
    lr: float
    seed: int


def _epochs(p: _Problem, train: npt.NDArray[Any]) -> tuple[nn.Sequential, Any]:
    """A fresh network, and a generator that trains it one epoch per step."""
    device = p.features.device
    torch.manual_seed(p.seed)
    net = _network(*p.shape).to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=p.lr, weight_decay=WEIGHT_DECAY)
    loss = nn.CrossEntropyLoss(weight=p.weight.to(device))
    order = torch.Generator().manual_seed(p.seed)
    chosen = torch.from_numpy(np.asarray(train, dtype=np.int64))

    def run() -> Any:
        while True:
            net.train()
            for batch in torch.split(chosen[torch.randperm(len(chosen), generator=order)], BATCH):
                at = batch.to(device)
                optimiser.zero_grad(set_to_none=True)
                loss(net(p.features[at]), p.targets[at]).backward()
                optimiser.step()
            yield

    return net, run()


def _best_epochs(
    p: _Problem,
    train: npt.NDArray[Any],
    held: npt.NDArray[Any],
    max_epochs: int,
    patience: int,
) -> int:
    """The number of epochs after which the held-out loss was lowest."""
    net, steps = _epochs(p, train)
    at = torch.from_numpy(np.asarray(held, dtype=np.int64)).to(p.features.device)
    best, best_epoch = math.inf, 1
    for epoch in range(1, max_epochs + 1):
        next(steps)
        net.eval()
        with torch.no_grad():
            held_loss = float(nn.functional.cross_entropy(net(p.features[at]), p.targets[at]))
        if held_loss < best - 1e-6:
            best, best_epoch = held_loss, epoch
        elif epoch - best_epoch >= patience:
            break
    return best_epoch


def _train_net(p: _Problem, train: npt.NDArray[Any], epochs: int) -> nn.Sequential:
    net, steps = _epochs(p, train)
    for _ in range(epochs):
        next(steps)
    return net.eval()


def predict_proba(model: MlpModel, X: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """float32 (n, k) probabilities, columns in ``model.classes`` order; numpy only."""
    rows = np.asarray(X)
    out = np.empty((len(rows), len(model.classes)), dtype=np.float32)
    with threadpool_limits(1):
        for start in range(0, len(rows), _PREDICT_CHUNK):
            hidden = unit_rows(rows[start : start + _PREDICT_CHUNK]) @ model.w1.T + model.b1
            np.maximum(hidden, 0.0, out=hidden)
            logits = hidden @ model.w2.T + model.b2
            logits -= logits.max(axis=1, keepdims=True)
            np.exp(logits, out=logits)
            logits /= logits.sum(axis=1, keepdims=True)
            out[start : start + len(logits)] = logits
    return out


def module(model: MlpModel) -> nn.Module:
    """Features -> probabilities in torch, the same computation as ``predict_proba``."""
    first = nn.Linear(model.w1.shape[1], model.w1.shape[0])
    last = nn.Linear(model.w2.shape[1], model.w2.shape[0])
    with torch.no_grad():
        first.weight.copy_(torch.from_numpy(model.w1))
        first.bias.copy_(torch.from_numpy(model.b1))
        last.weight.copy_(torch.from_numpy(model.w2))
        last.bias.copy_(torch.from_numpy(model.b2))
    return nn.Sequential(UnitRows(), first, nn.ReLU(), last, nn.Softmax(dim=1)).eval()
