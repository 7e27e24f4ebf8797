"""The SVM and MLP heads, and the common interface, on arrays made by hand.

The SVM's calibration is checked against scikit-learn's own ``CalibratedClassifierCV``
(sigmoid, one model on all rows), which the arrays-only model must reproduce.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from workers.ml import heads, linear, mlp, svm
from workers.ml.linear import unit_rows


def blobs(
    classes: list[int], per_class: int, dim: int = 8, spread: float = 1.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=spread, size=(len(classes), dim))
    scales = np.linspace(0.1, 5, dim)  # features on different scales, off-centre
    x = np.concatenate([c + rng.normal(size=(per_class, dim)) for c in centers]) * scales + 3
    return x, np.repeat(classes, per_class)


def as_torch(module: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return np.asarray(module(torch.from_numpy(x.astype(np.float32))).numpy())


@pytest.mark.parametrize("classes", [[3, 7], [0, 10, 20, 30]])
def test_svm_probabilities_are_scikit_learns_calibrated_svm(classes: list[int]) -> None:
    x, y = blobs(classes, 30)
    model = svm.fit_svm(x, y, C=0.5, seed=4)
    reference = CalibratedClassifierCV(
        LinearSVC(C=0.5, class_weight="balanced", random_state=4, max_iter=2000),
        method="sigmoid",
        cv=StratifiedKFold(svm.CALIBRATION_FOLDS, shuffle=True, random_state=4),
        ensemble=False,
    ).fit(unit_rows(x), y)
    expected = reference.predict_proba(unit_rows(x))
    got = svm.predict_proba(model, x)
    assert got.shape == (len(y), len(classes))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert list(model.classes) == sorted(classes)


def test_svm_with_a_single_row_class_still_gives_probabilities() -> None:
    x, y = blobs([1, 2, 3], 10)
    x, y = x[9:], y[9:]  # class 1 keeps one row: no inner fold can hold it out
    probs = svm.predict_proba(svm.fit_svm(x, y), x)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (probs.argmax(axis=1) == np.searchsorted([1, 2, 3], y)).mean() > 0.8


def test_svm_decisions_far_out_give_finite_probabilities() -> None:
    x, y = blobs([0, 1, 2], 20)
    model = svm.fit_svm(x, y)
    huge = svm.calibrated(model, np.array([[1e6, -1e6, 1e6], [-1e6, -1e6, -1e6]]))
    assert np.isfinite(huge).all()
    np.testing.assert_allclose(huge.sum(axis=1), 1.0, atol=1e-5)


def test_mlp_learns_is_deterministic_by_seed_and_keeps_the_callers_rng() -> None:
    x, y = blobs([5, 6, 7], 40, seed=1)
    test_x, test_y = blobs([5, 6, 7], 20, seed=1)  # same centres, fresh noise
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = mlp.fit_mlp(x, y, seed=2, device="cpu")
    assert torch.equal(torch.rand(1), before)  # the global stream is untouched
    again = mlp.fit_mlp(x, y, seed=2, device="cpu")
    other = mlp.fit_mlp(x, y, seed=3, device="cpu")
    np.testing.assert_array_equal(first.w1, again.w1)
    np.testing.assert_array_equal(first.w2, again.w2)
    assert not np.array_equal(first.w1, other.w1)
    predicted = first.classes[mlp.predict_proba(first, test_x).argmax(axis=1)]
    assert (predicted == test_y).mean() > 0.9
    assert 1 <= first.epochs <= mlp.MAX_EPOCHS


def test_mlp_stops_early_when_the_held_out_loss_stops_falling() -> None:
    # Labels that are noise: the held-out loss cannot keep falling for long.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 16))
    y = rng.integers(0, 3, size=120)
    model = mlp.fit_mlp(x, y, seed=0, max_epochs=150, patience=5)
    assert model.epochs < 60


def test_mlp_without_a_possible_hold_out_trains_a_fixed_budget() -> None:
    x, y = blobs([0, 1], 6)
    x, y = x[5:], y[5:]  # class 0 has one row
    model = mlp.fit_mlp(x, y, seed=0)
    assert model.epochs == mlp.NO_HOLDOUT_EPOCHS
    np.testing.assert_allclose(mlp.predict_proba(model, x).sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_mlp_trains_on_cuda() -> None:
    x, y = blobs([0, 1, 2], 30)
    model = mlp.fit_mlp(x, y, seed=0, device="cuda")
    assert model.w1.dtype == np.float32
    assert (model.classes[mlp.predict_proba(model, x).argmax(axis=1)] == y).mean() > 0.9


@pytest.mark.parametrize("name", heads.HEADS)
@pytest.mark.parametrize("classes", [[1, 2], [4, 8, 15]])
def test_each_heads_module_computes_its_predict_proba(name: str, classes: list[int]) -> None:
    x, y = blobs(classes, 20, seed=5)
    model = heads.fit_head(name, x, y, seed=1)
    expected = heads.predict_proba(model, x)
    assert expected.shape == (len(y), len(classes))
    assert list(model.classes) == sorted(classes)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(as_torch(heads.module(model), x), expected, atol=1e-5)


@pytest.mark.parametrize("name", heads.HEADS)
def test_each_head_cross_validates_out_of_fold(name: str) -> None:
    x, y = blobs([0, 1, 2], 15, spread=4.0, seed=2)
    probs = heads.cross_val_proba(name, x, y, folds=3, seed=0)
    assert probs.shape == (45, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (probs.argmax(axis=1) == y).mean() > 0.8


def test_logreg_through_the_heads_gives_the_probes_own_numbers() -> None:
    x, y = blobs([0, 1, 2], 15, seed=3)
    direct = linear.cross_val_proba(x, y, folds=4, seed=7, C=3.0)
    np.testing.assert_array_equal(
        heads.cross_val_proba("logreg", x, y, folds=4, seed=7, C=3.0), direct
    )

    def fit_proba(tx: np.ndarray, ty: np.ndarray, vx: np.ndarray) -> np.ndarray:
        return linear.predict_proba(linear.fit_linear(tx, ty, C=3.0, seed=7), vx)

    passed = linear.cross_val_proba(x, y, folds=4, seed=7, fit_proba=fit_proba)
    np.testing.assert_array_equal(passed, direct)


def test_an_unknown_head_is_refused() -> None:
    x, y = blobs([0, 1], 5)
    with pytest.raises(ValueError, match="unknown head 'forest'"):
        heads.fit_head("forest", x, y)
    with pytest.raises(ValueError, match="unknown head"):
        heads.cross_val_proba("", x, y)


def test_cross_validation_reports_each_fold_and_stops_when_told() -> None:
    x, y = blobs([0, 1, 2], 12, seed=4)
    seen: list[float] = []
    heads.cross_val_proba("svm", x, y, folds=4, progress=seen.append)
    assert seen == [0.25, 0.5, 0.75, 1.0]

    class Stop(Exception):
        pass

    def cancel(fraction: float) -> None:
        raise Stop

    with pytest.raises(Stop):
        heads.cross_val_proba("mlp", x, y, folds=4, progress=cancel)
