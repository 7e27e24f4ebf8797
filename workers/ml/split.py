"""A stratified hold-out split that also copes with tiny classes."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def stratified_split(
    targets: npt.NDArray[np.int64], val_fraction: float, rng: np.random.Generator
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(train, validation) positions, each class split in about ``val_fraction``.

    Every class with at least two images puts at least one in validation and keeps at
    least one for training; a class with a single image trains only, since a model cannot
    be measured on a class it never saw.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    train: list[npt.NDArray[np.int64]] = []
    val: list[npt.NDArray[np.int64]] = []
    for cls in np.unique(targets):
        members = rng.permutation(np.flatnonzero(targets == cls))
        n_val = (
            0
            if len(members) < 2
            else min(len(members) - 1, max(1, round(len(members) * val_fraction)))
        )
        val.append(members[:n_val])
        train.append(members[n_val:])
    val_index = np.sort(np.concatenate(val)).astype(np.int64)
    if len(val_index) == 0:
        raise ValueError("a validation split needs a class with at least 2 images")
    return np.sort(np.concatenate(train)).astype(np.int64), val_index
