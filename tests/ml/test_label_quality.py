"""The label checker on made-up embeddings: flipped labels are found, clean ones are not."""

from __future__ import annotations

import numpy as np
import pytest

from workers.ml import label_quality
from workers.ml.label_quality import (
    confident_learning,
    knn_label_probs,
    score_labels,
)
from workers.ml.linear import cross_val_proba


def clusters(per_class: int = 60, classes: int = 4, dim: int = 16, seed: int = 0):
    """Well separated but not trivially (out-of-fold accuracy well above 90%)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(classes, dim))
    y = np.repeat(np.arange(classes), per_class)
    x = centres[y] + rng.normal(size=(len(y), dim)) + 10.0  # off-centre, as CNN features
    return x, y


def flip(y: np.ndarray, share: float, classes: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    m = round(share * len(y))
    rows = rng.choice(len(y), m, replace=False)
    noisy = y.copy()
    noisy[rows] = (y[rows] + rng.integers(1, classes, m)) % classes
    return noisy, rows


def recall_at_k(score: np.ndarray, rows: np.ndarray) -> float:
    top = np.argsort(-score, kind="stable")[: len(rows)]
    return len(set(top.tolist()) & set(rows.tolist())) / len(rows)


def test_flipped_labels_rank_first_and_are_flagged() -> None:
    x, y = clusters()
    noisy, rows = flip(y, 0.1, 4)
    oof = cross_val_proba(x, noisy, folds=5, seed=0)
    found = score_labels(noisy, oof, x, folds=5, seed=0)
    assert found.score.shape == (240,)
    assert found.score.min() >= 0.0
    assert found.score.max() <= 1.0
    assert recall_at_k(found.score, rows) >= 0.9
    flagged = set(np.flatnonzero(found.flagged).tolist())
    assert len(flagged & set(rows.tolist())) >= 0.8 * len(rows)
    assert len(flagged - set(rows.tolist())) <= 2
    # The suggestion for a found flip is its true class.
    caught = [r for r in rows if found.flagged[r]]
    assert (found.suggested[caught] == y[caught]).mean() >= 0.9


def test_a_clean_set_flags_almost_nothing() -> None:
    x, y = clusters(seed=3)
    oof = cross_val_proba(x, y, folds=5, seed=0)
    found = score_labels(y, oof, x, folds=5, seed=0)
    assert found.flagged.sum() <= 2  # of 240
    assert (found.score < 0.5).mean() > 0.95
    assert (found.suggested == y).mean() > 0.97


def test_the_ensemble_is_at_least_as_good_as_the_baseline() -> None:
    x, y = clusters(per_class=50, classes=5, seed=5)
    noisy, rows = flip(y, 0.2, 5, seed=6)
    oof = cross_val_proba(x, noisy, folds=5, seed=0)
    ours = recall_at_k(score_labels(noisy, oof, x, seed=0).score, rows)
    baseline = recall_at_k(confident_learning(noisy, oof).score, rows)
    assert ours >= baseline
    assert ours >= 0.85


def test_a_model_that_knows_nothing_flags_nothing() -> None:
    """Uniform probabilities and neighbours of every class: no label stands out."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 8))
    y = np.tile(np.arange(9), 10)
    uniform = np.full((90, 9), 1 / 9)
    found = score_labels(y, uniform, x)
    assert not found.flagged.any()


def test_neighbours_never_vote_for_themselves() -> None:
    """Two identical points with different labels: each sees only the other (k=1)."""
    x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    y = np.array([0, 1, 1, 1])
    votes = knn_label_probs(x, y, 2, k=1)
    assert votes[0].tolist() == [0.0, 1.0]  # its twin says 1, it does not say 0 itself
    assert votes[1].tolist() == [1.0, 0.0]


def test_non_voters_are_skipped_and_a_row_without_voters_keeps_its_fallback() -> None:
    x = np.array([[1.0, 0.0], [0.99, 0.01], [0.0, 1.0], [0.01, 0.99]])
    y = np.array([0, 1, 1, 1])
    votes = knn_label_probs(x, y, 2, k=1, voters=np.array([True, False, True, True]))
    assert votes[1].tolist() == [1.0, 0.0]  # its nearest voter is row 0 (label 0)
    fallback = np.array([[0.3, 0.7]] * 4, dtype=np.float32)
    alone = knn_label_probs(x, y, 2, voters=np.zeros(4, bool), fallback=fallback)
    np.testing.assert_allclose(alone, fallback)


def test_a_tiny_set_is_scored_without_error() -> None:
    x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    y = np.array([0, 0, 1, 1])
    oof = cross_val_proba(x, y, folds=5)
    found = score_labels(y, oof, x)
    assert found.score.shape == (4,)
    assert np.isfinite(found.score).all()


def test_the_baseline_is_cleanlab_self_confidence() -> None:
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.05, 0.95]])
    y = np.array([0, 1, 1, 0])
    base = confident_learning(y, probs)
    np.testing.assert_allclose(base.score, [0.1, 0.2, 0.7, 0.95], atol=1e-6)
    assert base.suggested.tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize(
    ("labels", "probs", "message"),
    [
        ([0, 1, 2], np.full((3, 2), 0.5), "column indices"),
        ([0, -1], np.full((2, 2), 0.5), "column indices"),
        ([0, 1], np.full((3, 2), 0.5), r"\(n, k\)"),
        ([0, 1], np.full(2, 0.5), r"\(n, k\)"),
    ],
)
def test_malformed_input_is_refused(labels: list[int], probs: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        score_labels(labels, probs, np.ones((len(labels), 3)))


def test_embeddings_must_match_the_labels() -> None:
    with pytest.raises(ValueError, match="embeddings"):
        score_labels([0, 1], np.full((2, 2), 0.5), np.ones((3, 4)))


def test_broken_probabilities_do_not_poison_the_scores() -> None:
    """NaN, infinite and negative entries (a corrupt file) give finite scores in 0..1."""
    x, y = clusters(per_class=10, classes=2)
    probs = np.full((20, 2), 0.5)
    probs[0] = [np.nan, np.inf]
    probs[1] = [-3.0, 0.0]
    found = score_labels(y, probs, x)
    assert np.isfinite(found.score).all()
    assert ((found.score >= 0) & (found.score <= 1)).all()


def test_a_large_set_votes_through_a_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_VOTERS the neighbours come from a sample: still found, still 0..1."""
    monkeypatch.setattr(label_quality, "MAX_VOTERS", 60)
    x, y = clusters()
    noisy, rows = flip(y, 0.1, 4)
    oof = cross_val_proba(x, noisy, folds=5, seed=0)
    found = score_labels(noisy, oof, x, folds=5, seed=0)
    assert recall_at_k(found.score, rows) >= 0.9
    assert found.score.min() >= 0.0
    assert found.score.max() <= 1.0
