"""Query strategies on hand-made arrays: what a labeler would see at the head of the queue."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from workers.ml import strategies, uncertainty
from workers.ml.strategies import DEFAULT_STRATEGY, STRATEGIES, rank
from workers.ml.uncertainty import entropy, least_confidence, margin

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]


def blobs(
    sizes: list[int], dim: int = 16, spread: float = 0.03, seed: int = 0
) -> tuple[Floats, Ints]:
    """Tight groups of points around orthogonal directions: group g lies along axis g."""
    rng = np.random.default_rng(seed)
    points, groups = [], []
    for g, size in enumerate(sizes):
        centre = np.zeros(dim)
        centre[g] = 1.0
        points.append(centre + rng.normal(0.0, spread, (size, dim)))
        groups += [g] * size
    return np.vstack(points), np.asarray(groups, dtype=np.intp)


def probs_with_margin(gaps: Floats) -> Floats:
    """Two-class probabilities whose top-two gap is ``gaps`` (margin score 1 - gap)."""
    top = (1.0 + gaps) / 2.0
    return np.column_stack([top, 1.0 - top])


def page_groups(order: Ints, groups: Ints, pool: Ints, page: int, size: int) -> list[int]:
    return [int(groups[pool[i]]) for i in order[page * size : (page + 1) * size]]


# --- uncertainty --------------------------------------------------------------------


def test_uncertainty_scores_on_hand_made_probabilities() -> None:
    probs = np.array(
        [
            [1.0, 0.0, 0.0],  # certain
            [0.5, 0.5, 0.0],  # a tie between two classes
            [0.5, 0.3, 0.2],
            [1 / 3, 1 / 3, 1 / 3],  # knows nothing
        ]
    )
    assert least_confidence(probs) == pytest.approx([0.0, 0.5, 0.5, 2 / 3])
    assert margin(probs) == pytest.approx([0.0, 1.0, 0.8, 1.0])
    expected_entropy = [
        0.0,
        np.log(2),
        -(0.5 * np.log(0.5) + 0.3 * np.log(0.3) + 0.2 * np.log(0.2)),
        np.log(3),
    ]
    assert entropy(probs) == pytest.approx(expected_entropy, abs=1e-9)


def test_margin_and_least_confidence_disagree_where_they_should() -> None:
    # A close call between two classes versus a flat spread over four.
    probs = np.array([[0.5, 0.49, 0.01, 0.0], [0.4, 0.2, 0.2, 0.2]])
    assert np.argmax(margin(probs)) == 0
    assert np.argmax(least_confidence(probs)) == 1


def test_margin_of_a_single_class_model_is_zero() -> None:
    assert margin(np.ones((3, 1))).tolist() == [0.0, 0.0, 0.0]


# --- the entry point: contract -------------------------------------------------------


def test_unknown_strategy_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'badge'") as info:
        rank("badge", embeddings=np.eye(3), pool=np.arange(3), labeled=np.zeros(0), probs=None)
    for name in STRATEGIES:
        assert name in str(info.value)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("with_model", [False, True])
def test_every_strategy_orders_the_whole_pool(strategy: str, with_model: bool) -> None:
    x, _ = blobs([12, 9, 7, 5])
    labeled = np.array([0, 12, 30])
    pool = np.setdiff1d(np.arange(len(x)), labeled)
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(3), len(pool)) if with_model else None
    ranking = rank(
        strategy, embeddings=x, pool=pool, labeled=labeled, probs=probs, batch_size=4, seed=3
    )
    assert sorted(ranking.order.tolist()) == list(range(len(pool)))
    assert ranking.scores.shape == (len(pool),)
    assert np.isfinite(ranking.scores).all()
    assert ranking.strategy in STRATEGIES
    assert ranking.strategy != DEFAULT_STRATEGY


@pytest.mark.parametrize(
    "strategy", ["default", "margin", "entropy", "least_confidence", "cluster_margin"]
)
def test_strategies_that_need_a_model_fall_back_to_the_cold_start(strategy: str) -> None:
    x, _ = blobs([10, 10])
    ranking = rank(strategy, embeddings=x, pool=np.arange(20), labeled=np.zeros(0), probs=None)
    assert ranking.strategy == strategies.COLD_START


def test_the_rest_of_the_order_follows_the_scores() -> None:
    x, _ = blobs([40, 40, 40])
    pool = np.arange(len(x))
    probs = probs_with_margin(np.random.default_rng(0).random(len(x)))
    ranking = rank("cluster_margin", embeddings=x, pool=pool, labeled=[], probs=probs, batch_size=4)
    head = strategies.DIVERSE_PAGES * 4
    tail_scores = ranking.scores[ranking.order[head:]]
    assert (np.diff(tail_scores) <= 0).all()
    plain = rank("margin", embeddings=x, pool=pool, labeled=[], probs=probs)
    assert (np.diff(plain.scores[plain.order]) <= 0).all()
    assert plain.scores == pytest.approx(margin(probs))


def test_random_is_reproducible_per_seed_and_differs_across_seeds() -> None:
    x, _ = blobs([50])
    kwargs: dict[str, Any] = {"embeddings": x, "pool": np.arange(50), "labeled": [], "probs": None}
    first = rank("random", seed=7, **kwargs).order
    assert rank("random", seed=7, **kwargs).order.tolist() == first.tolist()
    assert rank("random", seed=8, **kwargs).order.tolist() != first.tolist()


def test_bad_input_is_refused_with_a_reason() -> None:
    x, _ = blobs([10])
    with pytest.raises(ValueError, match="probs has 3 rows for a pool of 10"):
        rank("margin", embeddings=x, pool=np.arange(10), labeled=[], probs=np.ones((3, 2)) / 2)
    with pytest.raises(ValueError, match="pool holds indices outside the 10 embeddings"):
        rank("margin", embeddings=x, pool=[0, 10], labeled=[], probs=None)
    with pytest.raises(ValueError, match="class_balance needs labeled_classes"):
        rank(
            "margin",
            embeddings=x,
            pool=np.arange(2, 10),
            labeled=[0, 1],
            probs=np.full((8, 2), 0.5),
            class_balance=True,
        )


def test_an_empty_pool_gives_an_empty_ranking() -> None:
    x, _ = blobs([4])
    ranking = rank("default", embeddings=x, pool=[], labeled=np.arange(4), probs=np.zeros((0, 2)))
    assert ranking.order.tolist() == []
    assert ranking.scores.tolist() == []


# --- cold start: the first labels cover the data -------------------------------------


@pytest.mark.parametrize("strategy", ["default", "typiclust", "kmeans", "kcenter"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cold_start_first_page_covers_every_group(strategy: str, seed: int) -> None:
    x, groups = blobs([40, 25, 15, 10, 8, 6], seed=seed)
    pool = np.arange(len(x))
    ranking = rank(
        strategy, embeddings=x, pool=pool, labeled=[], probs=None, batch_size=6, seed=seed
    )
    assert sorted(page_groups(ranking.order, groups, pool, 0, 6)) == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("strategy", ["typiclust", "kmeans"])
def test_cold_start_skips_groups_that_already_have_labels(strategy: str) -> None:
    x, groups = blobs([30, 30, 20, 20, 15, 15])
    labeled = np.array([0, 1, 30])  # groups 0 and 1 are covered
    pool = np.setdiff1d(np.arange(len(x)), labeled)
    ranking = rank(strategy, embeddings=x, pool=pool, labeled=labeled, probs=None, batch_size=4)
    assert sorted(page_groups(ranking.order, groups, pool, 0, 4)) == [2, 3, 4, 5]


def test_typiclust_takes_a_typical_image_not_an_outlier() -> None:
    rng = np.random.default_rng(0)
    core = np.array([1.0, 0.0, 0.0]) + rng.normal(0, 0.02, (30, 3))
    strays = np.array([1.0, 0.0, 0.0]) + rng.normal(0, 0.25, (6, 3))
    x = np.vstack([strays, core])  # strays first, so index order cannot help
    ranking = rank(
        "typiclust", embeddings=x, pool=np.arange(36), labeled=[], probs=None, batch_size=1
    )
    assert ranking.order[0] >= 6
    # The display score is the typicality: the core scores above every stray.
    assert ranking.scores[6:].min() > ranking.scores[:6].max()


# --- uncertainty with diversity: one page is not ten near-identical images -----------


def knot_and_groups() -> tuple[Floats, Ints, Ints, Ints, Floats]:
    """30 near-identical images the model is least sure of, 5 other uncertain groups of
    8, and 12 labeled images (group 6): enough labels for "default" to trust the model.

    Returns embeddings, group of each image, pool, labeled, and the pool's probs.
    """
    x, groups = blobs([30, 8, 8, 8, 8, 8, 12], spread=0.03)
    x[:30] = x[0] + np.random.default_rng(5).normal(0, 0.002, (30, x.shape[1]))
    pool, labeled = np.arange(70), np.arange(70, 82)
    gaps = np.where(groups[pool] == 0, 0.01, 0.2) + np.linspace(0, 0.001, len(pool))
    return x, groups, pool, labeled, probs_with_margin(gaps)


def test_plain_margin_fills_a_page_with_the_knot() -> None:
    x, groups, pool, labeled, probs = knot_and_groups()
    ranking = rank("margin", embeddings=x, pool=pool, labeled=labeled, probs=probs, batch_size=6)
    assert page_groups(ranking.order, groups, pool, 0, 6) == [0] * 6


@pytest.mark.parametrize("strategy", ["default", "cluster_margin", "kcenter", "kmeans"])
def test_diverse_strategies_spread_each_page_over_the_groups(strategy: str) -> None:
    x, groups, pool, labeled, probs = knot_and_groups()
    ranking = rank(strategy, embeddings=x, pool=pool, labeled=labeled, probs=probs, batch_size=6)
    for page in range(strategies.DIVERSE_PAGES):
        seen = page_groups(ranking.order, groups, pool, page, 6)
        assert seen.count(0) <= 1, (page, seen)  # at most one image of the knot per page
        assert len(set(seen)) >= 3, (page, seen)


def test_default_trusts_the_model_after_a_few_labels_per_class() -> None:
    x, _, pool, labeled, probs = knot_and_groups()
    kwargs: dict[str, Any] = {"embeddings": x, "pool": pool, "probs": probs, "batch_size": 6}
    enough = int(strategies.DEFAULT_SCHEDULE.labels_per_class * probs.shape[1])
    assert 1 < enough <= len(labeled)
    cold = rank("default", labeled=labeled[: enough - 1], **kwargs)
    assert cold.strategy == strategies.COLD_START
    warm = rank("default", labeled=labeled[:enough], **kwargs)
    assert warm.strategy == strategies.DEFAULT_SCHEDULE.warm
    assert warm.scores == pytest.approx(margin(probs))


def test_cluster_margin_takes_the_most_uncertain_of_each_group_first() -> None:
    x, groups, pool, labeled, probs = knot_and_groups()
    ranking = rank(
        "cluster_margin", embeddings=x, pool=pool, labeled=labeled, probs=probs, batch_size=6
    )
    first_page = ranking.order[:6]
    u = margin(probs)
    pool_groups = groups[pool]
    for i in first_page:
        assert u[i] == pytest.approx(u[pool_groups == pool_groups[i]].max())


# --- class balance -------------------------------------------------------------------


def test_class_balance_asks_first_about_the_rare_class() -> None:
    x, groups = blobs([10, 10, 12])
    labeled = np.arange(20, 32)  # group 2 holds the labels: 11 of class 0, 1 of class 1
    labeled_classes = np.array([0] * 11 + [1])
    pool = np.arange(20)
    # Equally uncertain: group 0 leans to class 0, group 1 to class 1.
    probs = np.where(groups[pool, None] == 0, [0.6, 0.4], [0.4, 0.6])
    kwargs: dict[str, Any] = {
        "embeddings": x,
        "pool": pool,
        "labeled": labeled,
        "probs": probs,
        "batch_size": 5,
    }
    plain = rank("margin", **kwargs)
    balanced = rank("margin", class_balance=True, labeled_classes=labeled_classes, **kwargs)
    assert page_groups(plain.order, groups, pool, 0, 5) == [0] * 5  # ties go by position
    assert page_groups(balanced.order, groups, pool, 0, 5) == [1] * 5
    assert balanced.scores[groups[pool] == 1].min() > balanced.scores[groups[pool] == 0].max()


def test_class_balance_weights_are_one_for_the_rarest_class() -> None:
    probs = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    weights = uncertainty.class_balance_weights(probs, [0, 0, 0, 1, 9, -1])
    # Class 2 has no label at all: it is the rarest; class 0 has 3 (out-of-range ignored).
    assert weights == pytest.approx([np.sqrt(1 / 4), np.sqrt(1 / 2), 1.0])


# --- large pools: subsampled clustering gives the same coverage ----------------------


def test_subsampled_clustering_and_typicality_still_cover_the_groups(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Shrink the limits so a small array walks the code paths of a 100,000-image pool.
    monkeypatch.setattr(strategies, "_FIT_ROWS", 60)
    monkeypatch.setattr(strategies, "_PCA_ROWS", 70)
    monkeypatch.setattr(strategies, "_REF_ROWS", 15)
    x, groups = blobs([120, 90, 60, 40], dim=80)  # 80-d: the PCA reduction runs too
    pool = np.arange(len(x))
    for strategy in ("typiclust", "kcenter"):
        ranking = rank(strategy, embeddings=x, pool=pool, labeled=[], probs=None, batch_size=4)
        assert sorted(page_groups(ranking.order, groups, pool, 0, 4)) == [0, 1, 2, 3]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_identical_images_still_give_a_full_order(strategy: str) -> None:
    # An upload of 40 copies of one photo: no geometry to exploit, nothing may break.
    x = np.ones((43, 8))
    pool, labeled = np.arange(40), np.arange(40, 43)
    for probs in (None, np.full((40, 3), 1 / 3)):
        ranking = rank(
            strategy, embeddings=x, pool=pool, labeled=labeled, probs=probs, batch_size=5
        )
        assert sorted(ranking.order.tolist()) == list(range(40))
