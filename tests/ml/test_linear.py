"""The linear probe against scikit-learn itself, on arrays made by hand."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer

from workers.ml import linear
from workers.ml.linear import (
    LinearModel,
    cross_val_predict,
    cross_val_proba,
    fit_linear,
    predict,
    predict_proba,
)


def blobs(
    classes: list[int], per_class: int, dim: int = 6, spread: float = 1.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=spread, size=(len(classes), dim))
    # Off-centre and on different scales, as real (non-negative) embeddings are.
    scales = np.linspace(0.1, 20, dim)
    x = np.concatenate([c + rng.normal(size=(per_class, dim)) for c in centers]) * scales + 5
    y = np.repeat(classes, per_class)
    return x, y


def sklearn_proba(x: np.ndarray, y: np.ndarray, **kwargs: object) -> np.ndarray:
    reference = make_pipeline(
        Normalizer(), LogisticRegression(class_weight="balanced", max_iter=5000, **kwargs)
    )
    return np.asarray(reference.fit(x, y).predict_proba(x))


@pytest.mark.parametrize("classes", [[7, 3, 12], [0, 1], [5, 9, 2, 8, 4]])
def test_probabilities_match_sklearn(classes: list[int]) -> None:
    x, y = blobs(classes, 40)
    model = fit_linear(x, y, max_iter=5000)
    ours = predict_proba(model, x)
    assert model.classes.tolist() == sorted(classes)  # the columns' order
    assert ours.dtype == np.float32
    assert ours.shape == (len(x), len(classes))
    # lbfgs stops at its tolerance, in float32 here and float64 there: the two optima
    # agree to about 1e-3 on unit-length rows, which are less well conditioned.
    np.testing.assert_allclose(ours, sklearn_proba(x, y, C=linear.DEFAULT_C), atol=2e-3)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, atol=1e-5)


def test_regularization_and_class_weight_reach_sklearn() -> None:
    x, y = blobs([0, 1, 2], 30)
    y = y[10:]  # class 0 is now the rare one
    x = x[10:]
    ours = predict_proba(fit_linear(x, y, C=0.05, max_iter=5000), x)
    np.testing.assert_allclose(ours, sklearn_proba(x, y, C=0.05), atol=2e-3)
    unweighted = predict_proba(fit_linear(x, y, C=0.05, class_weight=None, max_iter=5000), x)
    assert not np.allclose(ours, unweighted, atol=1e-3)


def test_float16_embeddings_are_accepted() -> None:
    x, y = blobs([1, 2, 3], 30, spread=3.0)
    model = fit_linear(x.astype(np.float16), y)
    proba = predict_proba(model, x.astype(np.float16))
    assert proba.dtype == np.float32
    assert (predict(model, x.astype(np.float16)) == y).mean() > 0.9


def test_the_model_travels_as_a_dict_or_a_pickle() -> None:
    x, y = blobs([4, 8], 20)
    model = fit_linear(x, y)
    expected = predict_proba(model, x)
    for copy in (LinearModel.from_dict(model.to_dict()), pickle.loads(pickle.dumps(model))):  # noqa: S301 (our own bytes)
        np.testing.assert_array_equal(predict_proba(copy, x), expected)
        assert copy.classes.tolist() == [4, 8]


def test_rows_are_scaled_to_unit_length_first() -> None:
    x, y = blobs([0, 1, 2], 25)
    model = fit_linear(x, y)
    # Only a row's direction counts: the same photo's embedding at twice the length
    # gets the same probabilities.
    np.testing.assert_allclose(predict_proba(model, 2 * x), predict_proba(model, x), atol=1e-6)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    logits = unit @ model.coef.T + model.intercept
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(
        softmax / softmax.sum(axis=1, keepdims=True), predict_proba(model, x), atol=1e-5
    )


def test_an_all_zero_row_gets_the_intercepts_answer_not_nan() -> None:
    x, y = blobs([0, 1, 2], 25)
    model = fit_linear(x, y)
    proba = predict_proba(model, np.zeros((1, x.shape[1])))
    assert np.isfinite(proba).all()
    expected = np.exp(model.intercept - model.intercept.max())
    np.testing.assert_allclose(proba[0], expected / expected.sum(), atol=1e-6)


def test_one_class_is_not_a_classifier() -> None:
    with pytest.raises(ValueError, match="at least 2 classes"):
        fit_linear(np.zeros((4, 3)), np.array([1, 1, 1, 1]))


def test_cross_val_predict_is_out_of_fold() -> None:
    """Random labels on random features: a model can memorize them (more dimensions than
    rows) but cannot predict them, so only honest out-of-fold predictions are at chance."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 200))
    y = np.repeat([0, 1, 2], 20)
    rng.shuffle(y)
    in_sample = (predict(fit_linear(x, y), x) == y).mean()
    oof = cross_val_predict(x, y, folds=5)
    assert in_sample == 1.0
    assert (oof == y).mean() < 0.6


def test_cross_val_predict_learns_what_is_learnable() -> None:
    x, y = blobs([10, 20, 30], 15, spread=4.0)
    oof = cross_val_predict(x, y, folds=5, seed=1)
    assert oof.shape == y.shape
    assert set(oof.tolist()) <= {10, 20, 30}
    assert (oof == y).mean() > 0.9


def test_cross_val_predict_copes_with_a_tiny_class() -> None:
    x, y = blobs([0, 1, 2], 12, spread=4.0)
    keep = np.concatenate([np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:2]])
    oof = cross_val_predict(x[keep], y[keep], folds=5)  # class 2 has 2 rows: 2 folds
    assert oof.shape == (26,)
    assert (oof[:24] == y[keep][:24]).mean() > 0.9


def test_cross_val_predict_passes_fit_options_on(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, object]] = []
    real_fit = linear.fit_linear

    def spy(x: np.ndarray, y: np.ndarray, **kwargs: object) -> LinearModel:
        seen.append(kwargs)
        return real_fit(x, y, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(linear, "fit_linear", spy)
    x, y = blobs([0, 1], 20)
    cross_val_predict(x, y, folds=4, seed=7, C=0.5, class_weight=None)
    assert seen == [{"seed": 7, "C": 0.5, "class_weight": None}] * 4


def test_cross_val_proba_is_out_of_fold_and_sums_to_one() -> None:
    """The same random labels: memorized in sample, but out of fold the given label's
    probability stays near chance (1/3), columns in sorted label order."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 200))
    y = np.repeat([7, 3, 5], 20)
    rng.shuffle(y)
    probs = cross_val_proba(x, y, folds=5)
    assert probs.shape == (60, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    given = probs[np.arange(60), np.searchsorted([3, 5, 7], y)]
    assert given.mean() < 0.45
    assert (np.array([3, 5, 7])[probs.argmax(axis=1)] == cross_val_predict(x, y)).all()


def test_cross_val_proba_is_confident_where_it_can_be() -> None:
    x, y = blobs([10, 20, 30], 15, spread=4.0)
    probs = cross_val_proba(x, y, folds=5, seed=1)
    given = probs[np.arange(len(y)), np.searchsorted([10, 20, 30], y)]
    assert np.median(given) > 0.8
