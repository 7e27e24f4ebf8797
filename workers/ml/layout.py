"""The embedding map's 2-D layout: fit it from backbone vectors, place later ones in it.

The fit is PCA to at most 50 dimensions, then UMAP to 2. PCA first because UMAP's
nearest-neighbour search over 1280-d vectors dominates its time on two cores, and 50
components keep the neighbourhoods the map shows.

Later images are placed the way UMAP's own ``transform`` starts: each new vector is
projected with the fitted PCA, its nearest fitted neighbours are found, and it lands at
their membership-weighted mean on the map. UMAP's ``transform`` would go through
pynndescent, which builds a search graph and JIT-compiles its search for every loaded
reducer (tens of seconds per new upload here); an exact search in 50 dimensions places
hundreds of images in milliseconds. The map refits when placed images pass a fifth of it.

The fitted state is plain arrays in an ``.npz`` (no pickle: loading it runs no code),
written under a temporary name and renamed into place, so a killed worker never leaves
half a file where the database points.
"""

from __future__ import annotations

import os
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]

COMPONENTS = 50
NEIGHBOURS = 15
MIN_UMAP = 16  # fewer points than this: UMAP has no neighbourhoods to keep; PCA lays them out
REFIT_FRACTION = 0.2
SUFFIX = ".npz"
_CHUNK = 1024  # new vectors compared with the fitted ones at a time: bounded memory


@dataclass(frozen=True)
class Layout:
    """A fitted map: the projection, and the fitted points in both spaces."""

    mean: Array  # (dim,)
    components: Array  # (k, dim)
    reduced: Array  # (n, k): the fitted points after the projection
    coords: Array  # (n, 2): where they sit on the map

    @property
    def size(self) -> int:
        return int(self.coords.shape[0])

    def project(self, vectors: npt.ArrayLike) -> Array:
        data = _as_matrix(vectors, self.mean.shape[0])
        return ((data - self.mean) @ self.components.T).astype(np.float32)


def _as_matrix(vectors: npt.ArrayLike, dim: int | None = None) -> Array:
    data = np.asarray(vectors, dtype=np.float32)
    if data.ndim != 2:
        raise ValueError(f"vectors must be a 2-d array (n, dim), got shape {data.shape}")
    if dim is not None and data.shape[1] != dim:
        raise ValueError(f"vectors have {data.shape[1]} columns; the map was fitted on {dim}")
    if not np.isfinite(data).all():
        raise ValueError("vectors contain NaN or infinity")
    return data


def _pca(data: Array, k: int) -> tuple[Array, Array]:
    """Mean and top ``k`` principal axes. Randomised SVD: its cost grows with ``k``, not
    with the 1280 columns squared as a full SVD's does (seconds, not a minute, at 100,000
    rows); a fixed seed and scikit-learn's sign convention give the same axes every time."""
    from sklearn.decomposition import PCA

    if data.shape[0] < 2:  # one image: no variance to find axes in; any axis will do
        return data.mean(axis=0).astype(np.float32), np.eye(k, data.shape[1], dtype=np.float32)
    solver = "randomized" if k < min(data.shape) else "full"  # a tiny project: exact
    pca = PCA(n_components=k, svd_solver=solver, random_state=0).fit(data)
    return pca.mean_.astype(np.float32), pca.components_.astype(np.float32)


def fit(vectors: npt.ArrayLike, seed: int = 0) -> Layout:
    """Lay out ``vectors`` (n, dim) on a plane; row i of ``coords`` is vector i."""
    data = _as_matrix(vectors)
    n, dim = data.shape
    if n == 0:
        raise ValueError("a map needs at least one vector")
    k = max(1, min(COMPONENTS, dim, n))
    mean, components = _pca(data, k)
    reduced = ((data - mean) @ components.T).astype(np.float32)
    if n < MIN_UMAP:
        coords = np.zeros((n, 2), dtype=np.float32)
        coords[:, : min(2, k)] = reduced[:, : min(2, k)]
    else:
        import umap  # heavy (numba): only a fit pays for the import

        reducer = umap.UMAP(
            n_neighbors=min(NEIGHBOURS, n - 1),
            n_components=2,
            random_state=seed,  # the same images give the same map after a refit
            low_memory=True,
            n_jobs=1,  # a seed makes UMAP serial anyway; saying so keeps it quiet
        )
        coords = np.asarray(reducer.fit_transform(reduced), dtype=np.float32)
    return Layout(mean, components, reduced, coords)


def place(layout: Layout, vectors: npt.ArrayLike, neighbours: int = NEIGHBOURS) -> Array:
    """Where new ``vectors`` land on a fitted map: among their nearest fitted points."""
    reduced = layout.project(vectors)
    out = np.empty((reduced.shape[0], 2), dtype=np.float32)
    k = max(1, min(neighbours, layout.size))
    fitted_sq = (layout.reduced**2).sum(axis=1)
    for start in range(0, reduced.shape[0], _CHUNK):
        block = reduced[start : start + _CHUNK]
        dist_sq = (block**2).sum(axis=1)[:, None] - 2 * block @ layout.reduced.T + fitted_sq
        near = np.argpartition(dist_sq, k - 1, axis=1)[:, :k]
        dist = np.sqrt(np.maximum(np.take_along_axis(dist_sq, near, axis=1), 0))
        # UMAP's membership strength: the nearest neighbour counts fully, farther ones
        # fade on the scale of the neighbourhood's spread.
        nearest = dist.min(axis=1, keepdims=True)
        spread = np.maximum(dist.mean(axis=1, keepdims=True) - nearest, 1e-6)
        weights = np.exp(-(dist - nearest) / spread)
        weights /= weights.sum(axis=1, keepdims=True)
        out[start : start + len(block)] = (weights[:, :, None] * layout.coords[near]).sum(axis=1)
    return out


def needs_refit(fitted: int, placed: int) -> bool:
    """A map refits once the images placed into it pass a fifth of those it was fitted on."""
    return placed > REFIT_FRACTION * fitted


def save(layout: Layout, directory: Path) -> str:
    """Write the layout under a new name, atomically; returns the file name."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}{SUFFIX}"
    tmp = directory / f".{name}.tmp"
    try:
        with open(tmp, "wb") as handle:
            np.savez(
                handle,
                mean=layout.mean,
                components=layout.components,
                reduced=layout.reduced.astype(np.float16),  # half the disk; placing is coarse
                coords=layout.coords,
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, directory / name)
    finally:
        tmp.unlink(missing_ok=True)
    return name


def load(directory: Path, name: str) -> Layout:
    """Read a saved layout; raises ``ValueError`` for a name or file that is not one."""
    if Path(name).name != name or not name.endswith(SUFFIX):
        raise ValueError(f"not a layout file name: {name!r}")
    try:
        with np.load(directory / name, allow_pickle=False) as data:
            layout = Layout(
                data["mean"].astype(np.float32),
                data["components"].astype(np.float32),
                data["reduced"].astype(np.float32),
                data["coords"].astype(np.float32),
            )
    except (OSError, KeyError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"layout {name} cannot be read: {exc}") from exc
    if (
        layout.reduced.shape[0] != layout.size
        or layout.components.shape[0] != layout.reduced.shape[1]
    ):
        raise ValueError(f"layout {name} is inconsistent")
    return layout


def discard(directory: Path, name: str | None) -> None:
    """Remove a layout file that nothing points to any more."""
    if name and Path(name).name == name and name.endswith(SUFFIX):
        (directory / name).unlink(missing_ok=True)
