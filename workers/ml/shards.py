"""The embedding cache on disk: float16 ``.npy`` shards, one per embedded batch.

The database keeps which image lives at which (shard, row); this module only writes
shards and reads rows back. A shard is written under a temporary name and renamed into
place, so a reader never sees half a file and a killed worker leaves at most a stray
temporary file, never a corrupt shard.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

SUFFIX = ".npy"


def write_shard(directory: Path, vectors: npt.ArrayLike) -> str:
    """Store ``vectors`` (n, dim) as float16; returns the new shard's file name."""
    array = np.ascontiguousarray(np.asarray(vectors, dtype=np.float16))
    if array.ndim != 2:
        raise ValueError(f"a shard holds a 2-d array (rows, dim), got shape {array.shape}")
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}{SUFFIX}"
    tmp = directory / f".{name}.tmp"
    try:
        with open(tmp, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())  # the rename must not outlive the data in a crash
        os.replace(tmp, directory / name)
    finally:
        tmp.unlink(missing_ok=True)
    return name


def _safe_name(name: str) -> str:
    # Names come from the database; never let one point outside the shard folder.
    if Path(name).name != name or not name.endswith(SUFFIX):
        raise ValueError(f"not a shard name: {name!r}")
    return name


def read_rows(directory: Path, locations: Sequence[tuple[str, int]]) -> npt.NDArray[np.float32]:
    """float32 (len(locations), dim), row i from ``locations[i]``; each shard opened once."""
    by_shard: dict[str, list[int]] = defaultdict(list)
    for position, (shard, _) in enumerate(locations):
        by_shard[shard].append(position)
    out: npt.NDArray[np.float32] | None = None
    for shard, positions in by_shard.items():
        data = np.load(directory / _safe_name(shard), mmap_mode="r", allow_pickle=False)
        rows = np.fromiter(
            (locations[p][1] for p in positions), dtype=np.int64, count=len(positions)
        )
        if len(rows) and (rows.min() < 0 or rows.max() >= len(data)):
            raise IndexError(f"shard {shard} has {len(data)} rows; asked for row {int(rows.max())}")
        if out is None:
            out = np.empty((len(locations), data.shape[1]), dtype=np.float32)
        elif data.shape[1] != out.shape[1]:
            raise ValueError(f"shard {shard} has {data.shape[1]} columns, others {out.shape[1]}")
        out[np.asarray(positions)] = data[rows]
    if out is None:
        return np.zeros((0, 0), dtype=np.float32)
    return out
