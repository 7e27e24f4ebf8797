"""How likely each given label is wrong, from out-of-fold probabilities and embeddings.

The baseline is cleanlab's confident learning on the run's out-of-fold probabilities:
``cleanlab.rank.get_label_quality_scores`` (self-confidence) ranks and
``cleanlab.filter.find_label_issues`` flags. The product's score goes two steps further:

1. Clean re-fit. The first pass's probe learned from the wrong labels too, which drags
   its probabilities towards them. The rows confident learning flags are left out of
   every fold's training (still predicted, out of fold), and the probe is fitted again.
2. Neighbours. Each image's 20 nearest labeled neighbours (cosine on unit-length
   embeddings; an image never votes for itself, nor does a suspect) vote for
   their labels; the votes are a second, non-linear opinion about the image's class.

The score is ``1 - E[given]`` with ``E = 0.85 * re-fit + 0.15 * neighbours``. On
flowers12 train with 5/10/20% of the labels flipped at random (bench/label_noise.py,
BENCHMARKS.md; weights and thresholds chosen on seeds 0-4, checked on seeds 10-14),
recall at k went from cleanlab's 0.967/0.964/0.965 to 0.972/0.975/0.985; AUROC stayed
at 0.999-0.9995 (cleanlab's 0.998 at 20%).

``flagged`` is the product's call, for either of two reasons: the ensemble gives the
given label under 10% and the suggestion at least three times as much (the ratio keeps
a model that knows nothing, every class near 1/k, from flagging everything); or
confident learning flags it on the run's probabilities and the ensemble suggests
another class. The threshold is the sharper call on a well-trained probe: at 10% noise
on seeds 0-4, ``find_label_issues`` flagged 84% of the flips at 96% precision, the
threshold 97% at 98%. With few photos or few classes the probe is soft and a flip may
keep 10-30% of the probability; confident learning's per-class thresholds adapt to
that (8 photos a species, 10% flipped: the threshold alone flagged 88% of the flips,
with confident learning 94%, at 88% precision against cleanlab's 84%).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores

from workers.ml.linear import DEFAULT_C, cross_val_proba, unit_rows

NEIGHBOURS = 20
PROBE_WEIGHT = 0.85  # the re-fitted probe's share of the ensemble; the neighbours have the rest
FLAG_BELOW = 0.1  # flagged when the ensemble gives the given label less than this...
FLAG_RATIO = 3.0  # ...and the suggestion at least this many times as much
MIN_TRAINABLE = 2  # rows per class the clean re-fit always keeps (else it cannot learn it)
# Neighbours are looked for among at most this many voters (a seeded sample beyond it):
# the search is rows x voters dot products, so it stays linear in the labeled set. 10,000
# rows against 10,000 voters took 10-25 s on the busy 2-core machine.
MAX_VOTERS = 20_000
_SIMILARITY_CELLS = 2**24  # (rows x labeled) similarities computed at a time: ~64 MB


@dataclass(frozen=True)
class LabelScores:
    score: npt.NDArray[np.float32]  # (n,) 0..1, higher: the label is more likely wrong
    flagged: npt.NDArray[np.bool_]  # (n,)
    suggested: npt.NDArray[np.intp]  # (n,) the most likely class (a column index)


def confident_learning(labels: npt.ArrayLike, probs: npt.ArrayLike) -> LabelScores:
    """The baseline: cleanlab's self-confidence ranking and its confident-learning flags."""
    given, p = _checked(labels, probs)
    quality = get_label_quality_scores(given, p)
    return LabelScores(
        score=np.clip(1.0 - quality, 0.0, 1.0).astype(np.float32),
        flagged=confident_flags(given, p),
        suggested=np.argmax(p, axis=1),
    )


def confident_flags(labels: npt.ArrayLike, probs: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """``cleanlab.filter.find_label_issues``; where it cannot judge (a handful of rows,
    a class with one member), the plain "predicted class differs from the label"."""
    given, p = _checked(labels, probs)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # n_jobs=1: a Celery worker's child process may not start a pool of its own.
            found = find_label_issues(given, p, n_jobs=1)
        return np.asarray(found, dtype=bool)
    except (ValueError, IndexError, ZeroDivisionError):
        flags: npt.NDArray[np.bool_] = np.argmax(p, axis=1) != given
        return flags


def score_labels(
    labels: npt.ArrayLike,
    probs: npt.ArrayLike,
    embeddings: npt.ArrayLike,
    *,
    folds: int = 5,
    seed: int = 0,
    C: float = DEFAULT_C,
) -> LabelScores:
    """The product's score (see the module docstring).

    ``labels`` are column indices into ``probs`` (n, k), the out-of-fold probabilities
    of the rows of ``embeddings`` (n, d); ``folds``, ``seed`` and ``C`` are the run's.
    """
    given, p = _checked(labels, probs)
    x = np.asarray(embeddings)
    if len(x) != len(given):
        raise ValueError(f"{len(given)} labels but {len(x)} embeddings")
    suspects = confident_flags(given, p)
    trusted = _keep_learnable(given, ~suspects)
    refit = _refit(x, given, p, trusted, folds=folds, seed=seed, C=C)
    voters = _sample(trusted, MAX_VOTERS, seed)
    votes = knn_label_probs(x, given, p.shape[1], voters=voters, fallback=refit)
    ensemble = PROBE_WEIGHT * refit + (1.0 - PROBE_WEIGHT) * votes
    rows = np.arange(len(given))
    belief = ensemble[rows, given]
    suggested = np.argmax(ensemble, axis=1)
    unlikely = (belief < FLAG_BELOW) & (ensemble[rows, suggested] >= FLAG_RATIO * belief)
    flagged = unlikely | (suspects & (suggested != given))
    return LabelScores(
        score=np.clip(1.0 - belief, 0.0, 1.0).astype(np.float32),
        flagged=flagged,
        suggested=suggested,
    )


def knn_label_probs(
    embeddings: npt.ArrayLike,
    labels: npt.ArrayLike,
    n_classes: int,
    *,
    k: int = NEIGHBOURS,
    voters: npt.ArrayLike | None = None,
    fallback: npt.NDArray[Any] | None = None,
) -> npt.NDArray[np.float32]:
    """(n, n_classes): the share of each row's ``k`` nearest voters (cosine) per label.

    A row never votes for itself. A row with no voter at all gets ``fallback``'s row
    (uniform without one).
    """
    unit = unit_rows(np.asarray(embeddings))
    given = np.asarray(labels, dtype=np.intp)
    n = len(unit)
    can_vote = np.ones(n, bool) if voters is None else np.asarray(voters, bool)
    voter_rows = np.flatnonzero(can_vote)
    out = np.zeros((n, n_classes), dtype=np.float32)
    if fallback is None:
        out[:] = 1.0 / n_classes
    else:
        out[:] = fallback
    take = min(k, len(voter_rows) - 1) if len(voter_rows) > 1 else 0
    if take < 1:
        return out
    pool = unit[voter_rows]
    chunk = max(1, _SIMILARITY_CELLS // len(voter_rows))
    for start in range(0, n, chunk):
        rows = np.arange(start, min(n, start + chunk))
        similarity = unit[rows] @ pool.T
        # The row itself, when it is a voter, is out of its own neighbourhood.
        own = np.searchsorted(voter_rows, rows)
        is_voter = (own < len(voter_rows)) & (
            voter_rows[np.minimum(own, len(voter_rows) - 1)] == rows
        )
        similarity[np.flatnonzero(is_voter), own[is_voter]] = -np.inf
        nearest = np.argpartition(-similarity, take - 1, axis=1)[:, :take]
        counts = np.zeros((len(rows), n_classes), dtype=np.float32)
        np.add.at(
            counts, (np.repeat(np.arange(len(rows)), take), given[voter_rows[nearest]].ravel()), 1.0
        )
        out[rows] = counts / take
    return out


def _refit(
    x: npt.NDArray[Any],
    given: npt.NDArray[np.intp],
    first: npt.NDArray[np.float32],
    trusted: npt.NDArray[np.bool_],
    *,
    folds: int,
    seed: int,
    C: float,
) -> npt.NDArray[np.float32]:
    """Out-of-fold probabilities again, the suspects left out of training; the first
    pass's where a re-fit is not possible (fewer than two classes, too few rows)."""
    present = np.unique(given)
    if trusted.all() or len(present) < 2:
        return first
    try:
        probs = cross_val_proba(x, given, folds=folds, seed=seed, trainable=trusted, C=C)
    except ValueError:
        return first
    out = np.zeros_like(first)
    out[:, present] = probs
    return out


def _sample(mask: npt.NDArray[np.bool_], most: int, seed: int) -> npt.NDArray[np.bool_]:
    chosen = np.flatnonzero(mask)
    if len(chosen) <= most:
        return mask
    kept = np.zeros_like(mask)
    kept[np.random.default_rng(seed).choice(chosen, most, replace=False)] = True
    return kept


def _keep_learnable(
    given: npt.NDArray[np.intp], trusted: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """A class whose trusted rows would fall under ``MIN_TRAINABLE`` keeps all its rows:
    a re-fit that cannot learn a class would call every one of its labels wrong."""
    kept = trusted.copy()
    for cls in np.unique(given):
        members = given == cls
        if int((kept & members).sum()) < MIN_TRAINABLE:
            kept[members] = True
    return kept


def _checked(
    labels: npt.ArrayLike, probs: npt.ArrayLike
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    given = np.asarray(labels, dtype=np.intp)
    p = np.asarray(probs, dtype=np.float32)
    if p.ndim != 2 or len(p) != len(given):
        raise ValueError(f"probs must be (n, k) with one label per row; got {p.shape}")
    if len(given) and (given.min() < 0 or given.max() >= p.shape[1]):
        raise ValueError(f"labels must be column indices 0..{p.shape[1] - 1}")
    # Rows renormalised: float16 storage and a fold that never saw a class leave sums
    # a hair off 1, which cleanlab rejects.
    p = np.clip(np.nan_to_num(p, nan=0.0, posinf=1.0, neginf=0.0), 0.0, None)
    sums = p.sum(axis=1, keepdims=True)
    uniform = np.float32(1.0 / max(p.shape[1], 1))
    p = np.where(sums > 0, p / np.maximum(sums, 1e-12), uniform).astype(np.float32)
    return given, p
