"""The odd-picture scorer on synthetic embeddings with known structure, and on the real
backbone's vectors of flowers12 photos and generated blank and noise frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.ml.conftest import flowers
from tests.support import odd_pictures
from workers.ml.outliers import FLAG_QUANTILE, centre_distance, ranking, score_outliers, unit

DIM = 64


def clusters(
    seed: int, classes: int = 5, per_class: int = 60, spread: float = 0.35
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class clusters on the sphere: vectors, their class, class centres."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(classes, DIM)))
    y = np.repeat(np.arange(classes), per_class)
    x = unit(centres[y] + spread * rng.normal(size=(len(y), DIM)) / np.sqrt(DIM) * 3)
    return x, y, centres


def test_a_clump_of_similar_outliers_is_still_found() -> None:
    """Twenty near-identical odd vectors are each other's nearest neighbours, which
    hides them from kNN density; they must still outrank every in-scope image."""
    x, y, _ = clusters(0)
    rng = np.random.default_rng(1)
    clump = unit(rng.normal(size=(1, DIM)) + 0.01 * rng.normal(size=(20, DIM)))
    unlabeled_inliers, _, _ = clusters(0, per_class=10)  # same centres, new draws
    rng2 = np.random.default_rng(2)
    unlabeled_inliers = unit(unlabeled_inliers + 0.05 * rng2.normal(size=unlabeled_inliers.shape))
    data = np.vstack([x, unlabeled_inliers, clump])
    labels = np.concatenate([y, -np.ones(len(unlabeled_inliers) + 20, dtype=int)])
    result = score_outliers(data, labels)
    odd = np.arange(len(data) - 20, len(data))
    assert set(ranking(result.scores)[:20].tolist()) == set(odd.tolist())
    assert result.flagged[odd].all()
    # The density evidence alone is fooled by the clump: the reason for the others.
    density = result.evidence["density"]
    assert density[odd].max() < np.median(density[: len(x)])


def test_an_unlabeled_cluster_between_classes_is_found_by_coverage() -> None:
    """A new "species": a tight unlabeled group whose centre is a mix of two known
    classes, so it is not far from a class centre; no labeled image is near it."""
    x, y, centres = clusters(3)
    rng = np.random.default_rng(4)
    middle = unit((centres[0] + centres[1])[None, :])
    group = unit(middle + 0.3 * rng.normal(size=(15, DIM)) / np.sqrt(DIM) * 3)
    inliers, _, _ = clusters(3, per_class=8)
    data = np.vstack([x, inliers, group])
    labels = np.concatenate([y, -np.ones(len(inliers) + len(group), dtype=int)])
    result = score_outliers(data, labels)
    odd = result.scores[-len(group) :]
    inlier_scores = result.scores[len(x) : len(x) + len(inliers)]
    assert np.median(odd) > np.quantile(inlier_scores, 0.95)


def test_scores_are_in_range_and_flags_follow_the_labeled_quantile() -> None:
    x, y, _ = clusters(5)
    result = score_outliers(x, y)
    assert result.scores.shape == (len(x),)
    assert np.all((result.scores >= 0) & (result.scores <= 1))
    # Calibrated on the labeled images themselves: about 1% of them are flagged.
    assert result.flagged.sum() <= int(np.ceil(len(x) * (1 - FLAG_QUANTILE))) + 1
    assert np.array_equal(result.flagged, result.scores > 0.5)


def test_labeled_images_are_scored_leaving_themselves_out() -> None:
    """A mislabeled far-away vector is its own class centre's member: leaving it out
    keeps it from looking typical."""
    x, y, _ = clusters(6)
    far = unit(np.random.default_rng(7).normal(size=(1, DIM)))
    data = np.vstack([x, far])
    labels = np.append(y, 0)  # labeled as class 0 although it is nothing like it
    result = score_outliers(data, labels)
    assert ranking(result.scores)[0] == len(data) - 1
    assert result.flagged[-1]


def test_without_labels_density_alone_scores() -> None:
    x, _, _ = clusters(8)
    lone = unit(np.random.default_rng(9).normal(size=(1, DIM)))
    result = score_outliers(np.vstack([x, lone]), -np.ones(len(x) + 1, dtype=int))
    assert set(result.evidence) == {"density"}
    assert ranking(result.scores)[0] == len(x)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_tiny_inputs_do_not_break(n: int) -> None:
    x = unit(np.random.default_rng(n).normal(size=(max(n, 0), DIM))) if n else np.zeros((0, DIM))
    labels = np.array([0, 1, 0][:n], dtype=int)
    result = score_outliers(x, labels)
    assert result.scores.shape == (n,)
    assert np.all(np.isfinite(result.scores))


def test_a_class_of_one_and_zero_vectors_are_handled() -> None:
    x, y, _ = clusters(10, classes=3, per_class=10)
    data = np.vstack([x, np.zeros((1, DIM)), x[:1]])
    labels = np.concatenate([y, [7, -1]])  # class 7 has one member
    result = score_outliers(data, labels)
    assert np.all(np.isfinite(result.scores))
    assert np.isfinite(centre_distance(unit(data), labels)).all()


def test_malformed_input_is_refused() -> None:
    with pytest.raises(ValueError, match="labels"):
        score_outliers(np.ones((4, 3)), [0, 1])
    with pytest.raises(ValueError, match="2-d"):
        score_outliers(np.ones(4), [0, 1, 0, 1])


def test_the_sample_of_neighbours_keeps_a_large_set_bounded() -> None:
    """Past ``reference_cap`` images, neighbours come from a seeded sample: the clump
    is still found and a rerun gives the same scores."""
    x, y, _ = clusters(11, per_class=80)
    rng = np.random.default_rng(12)
    clump = unit(rng.normal(size=(1, DIM)) + 0.01 * rng.normal(size=(10, DIM)))
    data = np.vstack([x, clump])
    labels = np.concatenate([y, -np.ones(10, dtype=int)])
    first = score_outliers(data, labels, reference_cap=150)
    again = score_outliers(data, labels, reference_cap=150)
    assert np.array_equal(first.scores, again.scores)
    assert set(ranking(first.scores)[:10].tolist()) == set(range(len(x), len(data)))


def test_blank_and_noise_frames_rank_above_real_flowers(tmp_path: Path) -> None:
    """Real Lite0 vectors: 4 species labeled, photos of the same species unlabeled,
    and blank, noise, gradient and text frames (several of each, alike) unlabeled."""
    from workers.ml.embed import embed_files

    labeled = flowers("train", 12, classes=4)
    unlabeled = flowers("test", 5, classes=4)
    odd = [p for kind in ("flat", "noise") for p in odd_pictures.write(tmp_path, kind, 4)]
    paths = [p for p, _ in labeled] + [p for p, _ in unlabeled] + odd
    result = embed_files(paths, decode_workers=1)
    assert not result.errors
    species = sorted({s for _, s in labeled})
    labels = np.array([species.index(s) for _, s in labeled] + [-1] * (len(unlabeled) + len(odd)))
    scored = score_outliers(result.vectors.astype(np.float32), labels)
    top = set(ranking(scored.scores)[: len(odd)].tolist())
    assert top == set(range(len(paths) - len(odd), len(paths)))
    assert scored.flagged[-len(odd) :].all()
    assert not scored.flagged[len(labeled) : len(labeled) + len(unlabeled)].any()
