"""Active-learning query strategies: which unlabeled images a label would teach most.

Pure functions over predicted probabilities and embeddings (numpy and scikit-learn, no
torch), so the ``score`` task, the unit tests and ``bench/al_simulate.py`` run the same
code. ``rank`` is the one entry point: it orders the whole pool, best first, and makes
the first pages of that order diverse, so one page of the labeling queue is never ten
near-identical images.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning

from workers.ml.uncertainty import (
    UNCERTAINTY,
    as_probs,
    class_balance_weights,
    margin,
)

Floats = npt.NDArray[np.float64]
Vectors = npt.NDArray[np.float32]
Indices = npt.NDArray[np.intp]

STRATEGIES: tuple[str, ...] = (
    "default",
    "random",
    "least_confidence",
    "margin",
    "entropy",
    "kmeans",
    "typiclust",
    "cluster_margin",
    "kcenter",
)
DEFAULT_STRATEGY = "default"

# How many pages at the head of the order are chosen as a diverse batch; the rest follow
# by score. Several annotators take pages at once, and a new model re-ranks within
# seconds, so a few pages are enough.
DIVERSE_PAGES = 3
# Clustering and density run on L2-normalised, PCA-reduced vectors: cosine geometry suits
# CNN features, and 64 dimensions make k-means on 100,000 images affordable.
_DIM = 64
_FIT_ROWS = 20_000  # k-means is fitted on at most this many rows
_PCA_ROWS = 5_000  # and the PCA on at most this many
_SEED_ROWS = 2_000  # k-means++ picks its first centres among at most this many
_REF_ROWS = 1_000  # typicality: neighbours are searched among at most this many
_KNN = 20  # TypiClust's neighbourhood size
_MAX_CLUSTERS = 256
_CANDIDATES_PER_PICK = 10  # cluster-margin: the top 10 x (diverse slots) uncertain
_CHUNK = 8192  # rows per step wherever a (rows x something) matrix is built


@dataclass(frozen=True)
class Ranking:
    """The labeling queue's order for one pool.

    ``order`` holds indices into ``pool`` (all of them), best first; ``scores`` is one
    float per pool item, higher = more informative (for display); ``strategy`` names
    what actually ran, e.g. "kmeans" for "default" before a model exists.
    """

    order: Indices
    scores: Floats
    strategy: str


# --- geometry ------------------------------------------------------------------------


def normalise(vectors: npt.ArrayLike) -> Vectors:
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", v, v))[:, None]
    return np.asarray(v / np.maximum(norms, 1e-12), dtype=np.float32)


def reduce(
    vectors: npt.ArrayLike, rows: npt.ArrayLike | None = None, seed: int = 0, dim: int = _DIM
) -> Vectors:
    """``vectors[rows]`` L2-normalised, projected on their top principal axes, normalised.

    Works through the rows in chunks, so 100,000 x 1280 inputs are never copied whole.
    """
    v = np.asarray(vectors)
    idx = np.arange(len(v)) if rows is None else np.asarray(rows, dtype=np.intp)
    if v.shape[1] <= dim or len(idx) <= dim:
        return normalise(v[idx])
    rng = np.random.default_rng(seed)
    fit_idx = idx if len(idx) <= _PCA_ROWS else np.sort(rng.choice(idx, _PCA_ROWS, replace=False))
    fit = normalise(v[fit_idx])
    components = min(dim, len(fit))
    # Exact on small projects; on big ones two power iterations are plenty for
    # clustering and cost a third of scikit-learn's default seven.
    solver = {"svd_solver": "full"} if len(fit) <= 2_000 else {"iterated_power": 2}
    pca = PCA(n_components=components, random_state=seed, **solver).fit(fit)
    out = np.empty((len(idx), components), dtype=np.float32)
    for start in range(0, len(idx), _CHUNK):
        out[start : start + _CHUNK] = pca.transform(normalise(v[idx[start : start + _CHUNK]]))
    return normalise(out)


def kmeans(z: Vectors, k: int, seed: int) -> Indices:
    """Cluster of each row; fitted on a subsample when there are many rows."""
    k = max(1, min(k, len(z)))
    rng = np.random.default_rng(seed)
    fit = z if len(z) <= _FIT_ROWS else z[rng.choice(len(z), _FIT_ROWS, replace=False)]
    # k-means++ seeding costs rows x k x log k: on a sample it is as good and, with 256
    # clusters, ten times cheaper; Lloyd's steps then run on all the fitted rows.
    seeding = fit if len(fit) <= _SEED_ROWS else fit[rng.choice(len(fit), _SEED_ROWS, False)]
    with warnings.catch_warnings():
        # Hand-made or duplicated data can have fewer distinct points than k.
        warnings.simplefilter("ignore", ConvergenceWarning)
        centres, _ = kmeans_plusplus(seeding, k, random_state=seed)
        model = KMeans(n_clusters=k, init=centres, n_init=1, max_iter=100).fit(fit)
        return np.asarray(model.predict(z), dtype=np.intp)


def _sq_distances(a: Vectors, b: Vectors) -> Vectors:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.asarray(np.maximum(d, 0.0), dtype=np.float32)


def typicality(
    z: Vectors, clusters: Indices, seed: int = 0, knn: int = _KNN, rows: Indices | None = None
) -> Floats:
    """TypiClust's density: 1 / mean distance to the k nearest neighbours in the cluster.

    Computed for ``rows`` (default: all; others get 0). Large clusters search their
    neighbours among a random sample of members, which keeps the cost linear in the
    pool; the ranking within a cluster barely moves.
    """
    rng = np.random.default_rng(seed)
    out = np.zeros(len(z))
    wanted = np.ones(len(z), dtype=bool) if rows is None else np.isin(np.arange(len(z)), rows)
    for c in np.unique(clusters[wanted]):
        members = np.flatnonzero(clusters == c)
        ref = members if len(members) <= _REF_ROWS else rng.choice(members, _REF_ROWS, False)
        members = members[wanted[members]]
        k = min(knn, len(ref) - 1)
        if k < 1:
            out[members] = 1.0  # a lone image is as typical as its group allows
            continue
        for start in range(0, len(members), _CHUNK):
            block = members[start : start + _CHUNK]
            d = np.sqrt(_sq_distances(z[block], z[ref]))
            d[block[:, None] == ref[None, :]] = np.inf  # an image is not its own neighbour
            near = np.partition(d, k - 1, axis=1)[:, :k]
            out[block] = 1.0 / (near.mean(axis=1) + 1e-6)
    return out


def closeness(z: Vectors, clusters: Indices) -> Floats:
    """Minus the distance to the row's cluster centre: plain k-means' representative."""
    k = int(clusters.max()) + 1
    sums = [np.bincount(clusters, weights=z[:, j], minlength=k) for j in range(z.shape[1])]
    centres = np.stack(sums, axis=1) / np.maximum(np.bincount(clusters, minlength=k), 1)[:, None]
    return np.asarray(-np.linalg.norm(z - centres[clusters], axis=1), dtype=np.float64)


# --- diverse heads of the order ------------------------------------------------------


def coverage_pick(
    z: Vectors, n_pool: int, pick: int, batch: int, seed: int, representative: str
) -> tuple[list[int], Floats]:
    """TypiClust's batch rule, page after page; returns the picks and display scores.

    ``z`` holds the pool's rows first, then the labeled ones. Each page clusters all of
    them into |labeled| + B groups and takes the most representative unlabeled image
    ("typical" or "central") of the B largest groups that hold no label yet; a group
    with labels comes after, by its size per label, which matters only once the cluster
    count is capped. The scores are the first page's representativeness.
    """
    covered = np.zeros(len(z), dtype=bool)
    covered[n_pool:] = True
    chosen: list[int] = []
    scores = np.zeros(n_pool)
    page = 0
    while len(chosen) < pick:
        k = min(int(covered.sum()) + batch, _MAX_CLUSTERS, len(z))
        clusters = kmeans(z, k, seed + page)
        sizes = np.bincount(clusters, minlength=k).astype(np.float64)
        labels_in = np.bincount(clusters[covered], minlength=k)
        priority = np.where(labels_in == 0, sizes + len(z), sizes / (1.0 + labels_in))
        has_open = np.bincount(clusters[~covered], minlength=k) > 0
        targets = [c for c in np.argsort(-priority, kind="stable") if has_open[c]]
        targets = targets[: min(batch, pick - len(chosen))]
        # Representativeness costs a neighbour search: past the first page (whose values
        # are the display scores) it is computed in the target groups only.
        rows = None if page == 0 else np.flatnonzero(np.isin(clusters, targets))
        if representative == "typical":
            value = typicality(z, clusters, seed, rows=rows)
        else:
            value = closeness(z, clusters)
        if page == 0:
            scores = value[:n_pool]
        for c in targets:
            open_rows = np.flatnonzero((clusters == c) & ~covered)
            best = int(open_rows[np.argmax(value[open_rows])])
            chosen.append(best)
            covered[best] = True
        page += 1
    return chosen, scores


def cluster_margin_pick(
    embeddings: npt.ArrayLike, rows: Indices, uncertainty: Floats, pick: int, batch: int, seed: int
) -> list[int]:
    """Cluster the most uncertain candidates into B groups, then round-robin across them.

    ``uncertainty[i]`` scores the image at ``embeddings[rows[i]]``; only the candidates'
    rows are read. Each page takes the most uncertain remaining image of every group, so
    a page spans B different regions of the uncertain set instead of one dense knot.
    """
    n_cand = min(len(uncertainty), _CANDIDATES_PER_PICK * pick)
    candidates = np.argsort(-uncertainty, kind="stable")[:n_cand]
    clusters = kmeans(normalise(np.asarray(embeddings)[rows[candidates]]), batch, seed)
    queues = [candidates[clusters == c] for c in range(int(clusters.max()) + 1)]
    # candidates are sorted by uncertainty, so each queue is too; the groups whose
    # best image is most uncertain go first within a page.
    queues.sort(key=lambda q: -uncertainty[q[0]] if len(q) else 0.0)
    chosen: list[int] = []
    depth = 0
    while len(chosen) < pick:
        for q in queues:
            if depth < len(q) and len(chosen) < pick:
                chosen.append(int(q[depth]))
        depth += 1
    return chosen


def kcenter_pick(
    z_pool: Vectors, z_labeled: Vectors, pick: int, seed: int
) -> tuple[list[int], Floats]:
    """k-center greedy: again and again, the image farthest from everything chosen.

    Returns the picks and each pool row's distance to its nearest labeled image, the
    score that orders the rest.
    """
    rng = np.random.default_rng(seed)
    ref = z_labeled
    if len(ref) > _REF_ROWS:  # a sample of the labels keeps 100,000-image pools affordable
        ref = ref[rng.choice(len(ref), _REF_ROWS, replace=False)]
    far = np.full(len(z_pool), np.inf)
    for start in range(0, len(z_pool) if len(ref) else 0, _CHUNK):
        far[start : start + _CHUNK] = _sq_distances(z_pool[start : start + _CHUNK], ref).min(1)
    scores = np.sqrt(far) if len(ref) else np.zeros(len(z_pool))
    chosen: list[int] = []
    while len(chosen) < pick:
        if chosen or len(ref):
            best = int(np.argmax(far))
        else:  # nothing labeled yet: start from the most central image, not an outlier
            best = int(np.argmin(_sq_distances(z_pool, z_pool.mean(0, keepdims=True))[:, 0]))
        chosen.append(best)
        far = np.minimum(far, _sq_distances(z_pool, z_pool[best : best + 1])[:, 0])
        far[best] = -np.inf  # never again, even when duplicates leave every distance 0
    return chosen, scores.astype(np.float64)


# --- the entry point -----------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """What "default" runs: coverage first, then uncertainty with diversity.

    A probe trained on one or two images per class is unsure about nearly everything,
    so its uncertainty says little; until the labels reach ``labels_per_class`` times
    the classes the model knows, covering the embedding space teaches more. Chosen by
    ``bench/al_simulate.py --tune`` on flowers12's train split (BENCHMARKS.md).
    """

    cold: str = "kmeans"
    warm: str = "cluster_margin"
    labels_per_class: float = 2.0


DEFAULT_SCHEDULE = Schedule()
COLD_START = DEFAULT_SCHEDULE.cold
_NEEDS_MODEL = frozenset({"least_confidence", "margin", "entropy", "cluster_margin"})


def concrete_strategy(
    strategy: str, n_labeled: int, n_classes: int | None, schedule: Schedule = DEFAULT_SCHEDULE
) -> str:
    """The strategy ``rank`` runs for ``strategy``; ``n_classes`` is None without a model."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if strategy == DEFAULT_STRATEGY:
        warm = n_classes is not None and n_labeled >= schedule.labels_per_class * n_classes
        strategy = schedule.warm if warm else schedule.cold
    if strategy in _NEEDS_MODEL and n_classes is None:
        return schedule.cold
    return strategy


def rank(
    strategy: str,
    *,
    embeddings: npt.ArrayLike,
    pool: npt.ArrayLike,
    labeled: npt.ArrayLike,
    probs: npt.ArrayLike | None,
    batch_size: int = 12,
    seed: int = 0,
    class_balance: bool = False,
    labeled_classes: npt.ArrayLike | None = None,
) -> Ranking:
    """Order ``pool`` (indices into ``embeddings``) for labeling, best first.

    ``probs`` holds the model's probabilities for the pool rows (None before any model).
    ``class_balance`` favours images whose predicted class has few labels; it needs
    ``labeled_classes``, the probs column of each ``labeled`` image, and acts on the
    strategies that use probs.
    """
    emb = np.asarray(embeddings)
    pool_idx = _indices(pool, len(emb), "pool")
    labeled_idx = _indices(labeled, len(emb), "labeled")
    p = None if probs is None else as_probs(probs)
    n = len(pool_idx)
    if p is not None and len(p) != n:
        raise ValueError(f"probs has {len(p)} rows for a pool of {n}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if (
        class_balance
        and p is not None
        and (labeled_classes is None or len(np.asarray(labeled_classes)) != len(labeled_idx))
    ):
        raise ValueError("class_balance needs labeled_classes, one per labeled image")
    name = concrete_strategy(strategy, len(labeled_idx), None if p is None else p.shape[1])
    if n == 0:
        return Ranking(np.zeros(0, dtype=np.intp), np.zeros(0), name)
    pick = min(n, DIVERSE_PAGES * batch_size)
    everyone = np.concatenate([pool_idx, labeled_idx])

    if name == "random":
        return _ranking([], np.random.default_rng(seed).random(n), name)
    if name in ("typiclust", "kmeans"):
        rep = "typical" if name == "typiclust" else "central"
        head, scores = coverage_pick(reduce(emb, everyone, seed), n, pick, batch_size, seed, rep)
        return _ranking(head, scores, name)
    if p is None:  # kcenter before any model: pure coverage of the embedding space
        z = reduce(emb, everyone, seed)
        head, scores = kcenter_pick(z[:n], z[n:], pick, seed)
        return _ranking(head, scores, name)

    u = UNCERTAINTY.get(name, margin)(p)
    if class_balance and labeled_classes is not None:
        u = u * class_balance_weights(p, labeled_classes)
    if name in UNCERTAINTY:
        return _ranking([], u, name)
    if name == "kcenter":
        # With a model, k-center greedy spreads over the uncertain candidates only.
        cand = np.argsort(-u, kind="stable")[: min(n, _CANDIDATES_PER_PICK * pick)]
        z = reduce(emb, np.concatenate([pool_idx[cand], labeled_idx]), seed)
        head, _ = kcenter_pick(z[: len(cand)], z[len(cand) :], pick, seed)
        return _ranking([int(cand[h]) for h in head], u, name)
    return _ranking(cluster_margin_pick(emb, pool_idx, u, pick, batch_size, seed), u, name)


def _indices(values: npt.ArrayLike, size: int, name: str) -> Indices:
    idx = np.asarray(values, dtype=np.intp).reshape(-1)
    if len(idx) and (idx.min() < 0 or idx.max() >= size):
        raise ValueError(f"{name} holds indices outside the {size} embeddings")
    return idx


def _ranking(head: list[int], scores: Floats, strategy: str) -> Ranking:
    """The diverse head first, then everything else by score (ties by pool position)."""
    rest = np.argsort(-scores, kind="stable")
    if head:
        taken = np.zeros(len(scores), dtype=bool)
        taken[head] = True
        rest = np.concatenate([np.asarray(head, dtype=np.intp), rest[~taken[rest]]])
    return Ranking(rest.astype(np.intp), np.asarray(scores, dtype=np.float64), strategy)
