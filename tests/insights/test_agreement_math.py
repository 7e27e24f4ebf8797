"""The agreement coefficients on hand-made cases with known values, and Krippendorff's
alpha against the `krippendorff` package (our sparse path must give the same number)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import krippendorff
import numpy as np
import pytest

from app.insights import agreement_math as am

# Wikipedia's worked example of Fleiss' kappa (14 raters, 10 subjects, 5 categories),
# published as 0.210 (P-bar 0.378, P-e-bar 0.213).
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def _from_counts(table: list[list[int]]) -> list[list[int]]:
    return [[label for label, k in enumerate(row) for _ in range(k)] for row in table]


def _items(
    pairs: Sequence[tuple[object, object]], raters: tuple[int, int] = (1, 2)
) -> list[am.Item]:
    return [
        am.Item(i, ((raters[0], a), (raters[1], b)), settled=True, final=a)
        for i, (a, b) in enumerate(pairs)
    ]


def test_identical_labels_give_one() -> None:
    labels = ["daisy", "rose", "tulip", "rose", "daisy", "tulip", "rose"]
    found = am.report(_items([(x, x) for x in labels]))
    assert found.images == 7
    assert found.kappa == pytest.approx(1.0)
    assert found.alpha == pytest.approx(1.0)
    (pair,) = found.pairs
    assert pair.kappa == pytest.approx(1.0)
    assert pair.agreement == 1.0
    assert all(
        c.kappa == pytest.approx(1.0) and c.alpha == pytest.approx(1.0) for c in found.labels
    )
    assert [r.agreement_with_final for r in found.raters] == [1.0, 1.0]
    assert found.confusions == []


def test_one_annotator_at_random_gives_about_zero() -> None:
    rng = random.Random(7)
    for k in (2, 5, 12):
        truth = [rng.randrange(k) for _ in range(4000)]
        found = am.report(_items([(t, rng.randrange(k)) for t in truth]))
        assert found.kappa == pytest.approx(0.0, abs=0.04), k
        assert found.alpha == pytest.approx(0.0, abs=0.04), k
        assert found.pairs[0].kappa == pytest.approx(0.0, abs=0.04), k
        # The careful one matches the final label (here: their own); the random one 1/k.
        careful, careless = sorted(found.raters, key=lambda r: r.rater)
        assert careful.agreement_with_final == 1.0
        assert careless.agreement_with_final == pytest.approx(1 / k, abs=0.03)


def test_fleiss_matches_the_textbook_example() -> None:
    assert am.fleiss_kappa(_from_counts(FLEISS_TABLE)) == pytest.approx(0.20993, abs=5e-5)


def test_cohen_matches_the_textbook_example() -> None:
    # 50 proposals, two readers: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no: p_o 0.7, p_e 0.5.
    pairs = [("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15
    assert am.cohen_kappa(pairs) == pytest.approx(0.4)


def test_alpha_matches_the_package_on_its_own_example_with_missing_values() -> None:
    nan = float("nan")
    data = [
        [nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
        [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
        [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4],
    ]
    units = [[int(row[u]) for row in data if row[u] == row[u]] for u in range(15)]
    assert am.krippendorff_alpha(units) == pytest.approx(0.691358, abs=1e-6)
    assert am.nominal_alpha(units) == pytest.approx(0.691358, abs=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_alpha_paths_agree_with_the_package_on_random_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    raters, units, k = 4, 60, 6
    data = rng.integers(0, k, size=(raters, units)).astype(float)
    data[rng.random(size=data.shape) < 0.4] = np.nan  # varying raters per unit
    # Pull some units towards agreement so alpha is not just about 0.
    data[:, :20] = data[0, :20]
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    units_lists = [[int(v) for v in data[:, u] if v == v] for u in range(units)]
    assert am.krippendorff_alpha(units_lists) == pytest.approx(expected, abs=1e-9)
    assert am.nominal_alpha(units_lists) == pytest.approx(expected, abs=1e-9)


def test_large_domains_use_the_sparse_path_and_give_the_same_alpha(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(3)
    units = [[rng.randrange(40) for _ in range(2)] for _ in range(300)]
    units += [[x, x] for x in range(40)]
    dense = am.krippendorff_alpha(units)
    monkeypatch.setattr(am, "DENSE_BUDGET", 10)
    assert am.krippendorff_alpha(units) == pytest.approx(dense, abs=1e-12)


def test_varying_raters_fleiss_equals_fleiss_when_the_count_is_constant() -> None:
    # Three raters on every item: the generalisation must be Fleiss exactly.
    table = [[3, 0, 0], [0, 3, 0], [1, 2, 0], [0, 1, 2], [2, 0, 1], [0, 0, 3]]
    n, big_n = 3, len(table)
    p_bar = sum(sum(k * (k - 1) for k in row) / (n * (n - 1)) for row in table) / big_n
    p_e = sum((sum(row[j] for row in table) / (n * big_n)) ** 2 for j in range(3))
    assert am.fleiss_kappa(_from_counts(table)) == pytest.approx((p_bar - p_e) / (1 - p_e))


def test_items_with_one_opinion_are_left_out() -> None:
    items = _items([("a", "a"), ("b", "b"), ("a", "b"), ("b", "b"), ("a", "a")])
    lone = [am.Item(100 + i, ((1, "a"),)) for i in range(50)]
    assert am.report(items + lone) == am.report(items)


def test_too_few_images_or_one_label_throughout_give_no_figure() -> None:
    few = am.report(_items([("a", "a"), ("b", "b"), ("a", "b"), ("b", "b")]))
    assert few.images == 4 < am.MIN_IMAGES
    assert few.kappa is None
    assert few.alpha is None
    assert few.pairs[0].kappa is None
    same = am.report(_items([("a", "a")] * 10))
    assert same.kappa is None
    assert same.alpha is None
    assert same.pairs[0].agreement == 1.0
    empty = am.report([])
    assert (empty.images, empty.kappa, empty.alpha, empty.pairs) == (0, None, None, [])


def test_per_category_one_vs_rest_matches_the_binary_coefficients() -> None:
    rng = random.Random(11)
    pairs = [(rng.choice("abc"), rng.choice("abcc")) for _ in range(80)]
    found = am.report(_items(pairs))
    for c in found.labels:
        binary = [[a == c.label, b == c.label] for a, b in pairs]
        assert c.kappa == pytest.approx(am.fleiss_kappa(binary))
        assert c.alpha == pytest.approx(am.nominal_alpha(binary))
        coded = np.array(binary, dtype=float).T  # raters x items, as the package reads it
        package = krippendorff.alpha(reliability_data=coded, level_of_measurement="nominal")
        assert c.alpha == pytest.approx(package, abs=1e-12)
        assert c.opinions == sum(a == c.label for a, _ in pairs) + sum(
            b == c.label for _, b in pairs
        )
        both = sum(a == b == c.label for a, b in pairs)
        assert c.agreement == pytest.approx(2 * both / c.opinions)  # specific agreement


def test_confusions_and_pairs_name_the_right_images_and_people() -> None:
    items = [
        am.Item(10, ((1, "rose"), (2, "tulip"))),
        am.Item(11, ((2, "tulip"), (3, "rose"))),
        am.Item(12, ((1, "rose"), (3, None))),  # None: a rejection, a label of its own
        am.Item(13, ((1, "rose"), (2, "rose"))),
        am.Item(14, ((None, "rose"), (2, "rose"))),  # an account that is gone
    ]
    found = am.report(items)
    assert next((c.labels, c.keys) for c in found.confusions) == (("rose", "tulip"), [10, 11])
    assert {c.labels: c.keys for c in found.confusions}[("rose", None)] == [12]
    assert {p.raters: p.images for p in found.pairs} == {(1, 2): 2, (2, 3): 1, (1, 3): 1}
    assert {r.rater: r.labels for r in found.raters} == {1: 3, 2: 4, 3: 2}
