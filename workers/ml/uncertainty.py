"""Uncertainty scores over predicted probabilities: one float per row, higher = less sure.

The active-learning strategies rank by these, and the predictions endpoint reports them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


def least_confidence(probs: npt.ArrayLike) -> Floats:
    p = as_probs(probs)
    return np.asarray(1.0 - p.max(axis=1), dtype=np.float64)


def margin(probs: npt.ArrayLike) -> Floats:
    """1 - (top probability - runner-up): 1 when the two best classes tie."""
    p = as_probs(probs)
    if p.shape[1] < 2:
        return np.zeros(len(p))
    top2 = np.partition(p, -2, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def entropy(probs: npt.ArrayLike) -> Floats:
    p = np.clip(as_probs(probs), 1e-12, 1.0)
    return np.asarray(-(p * np.log(p)).sum(axis=1), dtype=np.float64)


UNCERTAINTY: dict[str, Callable[[npt.ArrayLike], Floats]] = {
    "least_confidence": least_confidence,
    "margin": margin,
    "entropy": entropy,
}


def as_probs(probs: npt.ArrayLike) -> Floats:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probs must be 2-d (items, classes), got shape {p.shape}")
    return p


def class_balance_weights(probs: npt.ArrayLike, labeled_classes: npt.ArrayLike) -> Floats:
    """Per row, how rare its expected class is among the labels: 1 for the rarest class.

    ``labeled_classes`` holds the probs column of each labeled image. The square root
    softens the weight, so a common class's hard cases are still asked, only later.
    """
    p = as_probs(probs)
    k = p.shape[1]
    cls = np.asarray(labeled_classes, dtype=np.int64)
    counts = np.bincount(cls[(cls >= 0) & (cls < k)], minlength=k).astype(np.float64)
    per_class = np.sqrt((1.0 + counts.min()) / (1.0 + counts))
    return np.asarray(p @ per_class, dtype=np.float64)
