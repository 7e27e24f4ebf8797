"""How atypical each image is, from unit-length embeddings and the labeled images' classes.

Three kinds of evidence, because each misses something the others see:

- **centre**: cosine distance to the nearest labeled class centre. Odd pictures that
  resemble each other (twenty blank frames) are still far from every class, so they do
  not hide each other. It misses a new species that sits between known ones.
- **density**: mean distance to the ``k`` nearest images of any kind. It finds a lone
  odd picture in any direction, but a clump of similar odd pictures are each other's
  neighbours and look typical to it.
- **coverage**: how much farther the ``k`` nearest *labeled* images are than the ``k``
  nearest images of any kind. An unlabeled clump (a species nobody labeled, a batch of
  screenshots) is close to itself and far from every labeled picture. It needs labels
  to be spread over the data: with few labels every unlabeled region looks uncovered.

Neighbours (density, coverage) are measured after centring the vectors and keeping
their 128 main directions (``_neighbour_space``); the centre distance keeps the
backbone's own space, where class centres are what the probe learned from.

Each is put on the scale of the labeled images' own values (0 at their median, 1 at
their 90th percentile; each labeled image scored leaving itself out), and the largest
of the three is the image's evidence: one strong sign is enough. The labeled images
are the reference because they are the pictures a person has looked at and kept.

``flagged`` is the product's call: evidence above the ``FLAG_QUANTILE`` (99%) of the
labeled images' own, so about one labeled picture in a hundred is flagged by
construction. ``score`` maps the evidence to 0..1 with a logistic curve through 0.5 at
that threshold and 0.1 at the labeled median.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

Floats = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]
K = 5  # neighbours for density and coverage
FLAG_QUANTILE = 0.99
SCALE_QUANTILE = 0.9
REFERENCE_CAP = 20_000  # neighbours are looked for among at most this many images
NEIGHBOUR_DIM = 128  # principal directions kept for the neighbour search
CHUNK = 1024  # query rows per matrix product: bounded memory


@dataclass(frozen=True)
class OutlierScores:
    scores: Floats  # 0..1 per image, higher is more atypical
    flagged: npt.NDArray[np.bool_]
    evidence: dict[str, Floats] = field(default_factory=dict)  # raw, per kind


def unit(x: npt.ArrayLike) -> Floats:
    a = np.asarray(x, dtype=np.float32)
    if a.ndim != 2:
        raise ValueError(f"embeddings are a 2-d array (images, dim), got shape {a.shape}")
    norms = np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    return np.asarray(a / norms, dtype=np.float32)


def knn_distance(
    x: Floats, ref: Floats, k: int, *, exclude_self: bool = False, chunk: int = CHUNK
) -> Floats:
    """Mean cosine distance of each row of ``x`` to its ``k`` nearest rows of ``ref``
    (``exclude_self``: ``x`` is ``ref``, and a row is not its own neighbour)."""
    positions = np.arange(len(x)) if exclude_self else np.full(len(x), -1)
    return _knn(x, ref, positions, k, chunk)


def _knn(x: Floats, ref: Floats, positions: npt.NDArray[np.int64], k: int, chunk: int) -> Floats:
    # positions[i]: where x[i] sits in ref (-1: not there), so it is not its own neighbour.
    out = np.full(len(x), np.nan, dtype=np.float32)
    if len(ref) == 0:
        return out
    for start in range(0, len(x), chunk):
        sim = x[start : start + chunk] @ ref.T
        own = positions[start : start + chunk]
        rows = np.flatnonzero(own >= 0)
        sim[rows, own[rows]] = -np.inf
        kk = max(1, min(k, len(ref) - int(len(rows) > 0)))
        # The k largest without negating the block first: a copy that costs as much
        # as the partition itself.
        top = np.partition(sim, sim.shape[1] - kk, axis=1)[:, -kk:]
        top[~np.isfinite(top)] = -1.0  # a row with no other neighbour: as far as can be
        out[start : start + chunk] = 1.0 - top.mean(axis=1)
    return out


def centre_distance(x: Floats, labels: Labels) -> Floats:
    """Cosine distance to the nearest labeled class centre; a labeled image's own class
    centre leaves it out (otherwise every labeled image would look typical)."""
    classes = np.unique(labels[labels >= 0])
    if len(classes) == 0:
        return np.full(len(x), np.nan, dtype=np.float32)
    sums = np.stack([x[labels == c].sum(axis=0) for c in classes])
    sim = x @ unit(sums).T
    for j, c in enumerate(classes):
        own = np.flatnonzero(labels == c)
        if len(own) > 1:
            loo = unit(sums[j][None, :] - x[own])
            sim[own, j] = np.einsum("ij,ij->i", x[own], loo)
        else:
            sim[own, j] = -1.0  # a class of one says nothing about its one member
    return np.asarray(1.0 - sim.max(axis=1), dtype=np.float32)


def _reference(n: int, cap: int, seed: int) -> npt.NDArray[np.int64]:
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))


def _neighbour_space(x: Floats, ref: npt.NDArray[np.int64], dim: int, seed: int) -> Floats:
    """Where neighbours are looked for: centred on the reference sample's mean, its
    ``dim`` main directions, unit length again. Every backbone vector shares a large
    common part (any two pictures' cosine is high), which dilutes the differences the
    neighbour distances should see; it is also 10 times less to multiply."""
    mean = x[ref].mean(axis=0)
    centred = x[ref] - mean
    keep = max(1, min(dim, len(ref), x.shape[1]))
    return unit((x - mean) @ _main_directions(centred, keep, seed))


def _main_directions(centred: Floats, keep: int, seed: int) -> Floats:
    """The ``keep`` leading principal directions, by subspace iteration: a full
    eigendecomposition of the 1280 x 1280 covariance took seconds, this a few products."""
    width = min(keep + 10, centred.shape[1])
    q = np.random.default_rng(seed).normal(size=(centred.shape[1], width)).astype(np.float32)
    for _ in range(4):
        q, _ = np.linalg.qr(centred.T @ (centred @ q))
    small = q.T @ (centred.T @ (centred @ q))
    _, vectors = np.linalg.eigh(small.astype(np.float64))  # ascending
    return np.asarray(q @ vectors[:, ::-1][:, :keep], dtype=np.float32)


def _scaled(values: Floats, reference: npt.NDArray[np.bool_]) -> Floats:
    """0 at the labeled images' median, 1 at their ``SCALE_QUANTILE``: the kinds of
    evidence have tails of different weight, and a MAD scale let the heaviest one set
    the flag threshold for all."""
    ref = values[reference & np.isfinite(values)]
    if len(ref) == 0:
        return np.zeros(len(values), dtype=np.float32)
    middle = float(np.median(ref))
    spread = float(np.quantile(ref, SCALE_QUANTILE)) - middle
    if spread <= 1e-9:
        spread = float(ref.std())
    scaled = (values - middle) / max(spread, 1e-6)
    return np.asarray(np.nan_to_num(scaled, nan=0.0), dtype=np.float32)


def score_outliers(
    embeddings: npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    k: int = K,
    reference_cap: int = REFERENCE_CAP,
    neighbour_dim: int = NEIGHBOUR_DIM,
    seed: int = 0,
) -> OutlierScores:
    """Score every image; ``labels[i]`` is its class (any int) or -1 when unlabeled.

    Without labeled images only density is left, calibrated on all the images.
    """
    # One BLAS thread, as in workers.ml.linear: on the 2-core machine with other
    # processes busy, more threads made the decomposition 10 times slower, not faster.
    with threadpool_limits(1):
        return _score(embeddings, labels, k, reference_cap, neighbour_dim, seed)


def _score(
    embeddings: npt.ArrayLike,
    labels: npt.ArrayLike,
    k: int,
    reference_cap: int,
    neighbour_dim: int,
    seed: int,
) -> OutlierScores:
    x = unit(embeddings)
    y = np.asarray(labels, dtype=np.int64)
    if y.shape != (len(x),):
        raise ValueError(f"{len(x)} embeddings but labels of shape {y.shape}")
    n = len(x)
    if n == 0:
        empty = np.zeros(0, dtype=np.float32)
        return OutlierScores(empty, np.zeros(0, dtype=bool))
    labeled = y >= 0
    ref = _reference(n, reference_cap, seed)
    positions = np.full(n, -1, dtype=np.int64)
    positions[ref] = np.arange(len(ref))
    space = _neighbour_space(x, ref, neighbour_dim, seed)
    evidence = {"density": _knn(space, space[ref], positions, k, CHUNK)}
    if labeled.any():
        # Labeled neighbours come from the same sample as the density's, so the two
        # distances compare like with like when the sample is a fraction of the images.
        ref_labeled = ref[labeled[ref]]
        lab_positions = np.full(n, -1, dtype=np.int64)
        lab_positions[ref_labeled] = np.arange(len(ref_labeled))
        near_labeled = _knn(space, space[ref_labeled], lab_positions, k, CHUNK)
        evidence["coverage"] = near_labeled - evidence["density"]
        evidence["centre"] = centre_distance(x, y)
    calibrate = labeled if labeled.sum() >= 2 else np.ones(n, dtype=bool)
    combined = np.max([_scaled(e, calibrate) for e in evidence.values()], axis=0)
    scores, flagged = _to_scores(combined, calibrate)
    return OutlierScores(scores, flagged, evidence)


def _to_scores(
    combined: Floats, calibrate: npt.NDArray[np.bool_]
) -> tuple[Floats, npt.NDArray[np.bool_]]:
    ref = combined[calibrate]
    threshold = float(np.quantile(ref, FLAG_QUANTILE))
    middle = float(np.median(ref))
    width = max(threshold - middle, 1e-6) / math.log(9.0)  # median -> 0.1, threshold -> 0.5
    logits = np.clip((combined - threshold) / width, -60.0, 60.0)
    scores = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    return scores, combined > threshold


def ranking(scores: Floats) -> npt.NDArray[np.int64]:
    """Indices, most atypical first; ties in input order, so a rerun ranks alike."""
    return np.lexsort((np.arange(len(scores)), -scores.astype(np.float64)))
