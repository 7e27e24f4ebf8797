"""Agreement between annotators, as pure arithmetic over opinions (no database).

An item is one image with the opinions it got (who said what) and, when it has one, its
final label. Labels are any hashable value; the caller decides what a rejection is.

- Fleiss' kappa, generalised to a varying number of raters per item (Gwet 2014,
  *Handbook of Inter-Rater Reliability*, ch. 2): per-item agreement is averaged over the
  items with two or more opinions, and chance agreement uses the mean per-item share of
  each label. With the same number of raters on every item it is Fleiss (1971) exactly.
- Krippendorff's nominal alpha, by the ``krippendorff`` package. The package builds an
  items x labels x labels array, which for a big taxonomy outgrows a web request's
  memory even with the unanimous items folded together (``_package_alpha``); past
  ``DENSE_BUDGET`` cells the same formula is summed item by item
  (``nominal_alpha``; the tests check both give the same value).
- Cohen's kappa for each pair of annotators, over the items both of them labeled.

Every coefficient is None when it is undefined or would only be noise: fewer than
``MIN_IMAGES`` items with two or more opinions, or a single label used throughout
(chance agreement is then total and the ratio 0/0).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import krippendorff
import numpy as np

MIN_IMAGES = 5  # below this one image moves kappa by 0.2 or more: no figure at all
DENSE_BUDGET = 2_000_000  # cells of the package's items x labels x labels array

Label = Hashable
Rater = int | None  # None: an annotator whose account is gone (still an opinion)


@dataclass(frozen=True)
class Item:
    key: int  # the image
    opinions: tuple[tuple[Rater, Label], ...]
    settled: bool = False  # whether ``final`` is a decided label to compare opinions with
    final: Label = None


@dataclass(frozen=True)
class PairAgreement:
    raters: tuple[int, int]
    images: int
    agreement: float  # share of shared images on which the two said the same
    kappa: float | None


@dataclass(frozen=True)
class RaterAgreement:
    rater: int
    labels: int  # opinions given on images with two or more opinions
    compared: int  # of those, on images whose final label is settled
    agreement_with_final: float | None


@dataclass(frozen=True)
class LabelAgreement:
    label: Label
    opinions: int
    images: int  # images on which at least one opinion was this label
    agreement: float | None  # when someone said it, the share of the others who did too
    kappa: float | None  # one-vs-rest
    alpha: float | None


@dataclass(frozen=True)
class Confusion:
    labels: tuple[Label, Label]
    keys: list[int] = field(default_factory=list)  # the images where the two were said


@dataclass(frozen=True)
class Report:
    images: int
    kappa: float | None
    alpha: float | None
    pairs: list[PairAgreement]
    raters: list[RaterAgreement]
    labels: list[LabelAgreement]
    confusions: list[Confusion]


Counts = dict[Label, int]  # how many opinions said each label, on one item


def _count(labels: Iterable[Label]) -> Counts:
    # A plain dict: Counter's constructor costs a third of a 20,000-image report.
    found: Counts = {}
    for label in labels:
        found[label] = found.get(label, 0) + 1
    return found


def _rated(items: Iterable[Sequence[Label]]) -> list[Counts]:
    return [_count(labels) for labels in items if len(labels) >= 2]


def fleiss_kappa(items: Iterable[Sequence[Label]]) -> float | None:
    """Fleiss' kappa; each item is the labels it got, from any number of raters."""
    return _fleiss(_rated(items))


def _fleiss(counts: Sequence[Counts]) -> float | None:
    if len(counts) < MIN_IMAGES:
        return None
    observed = 0.0
    shares: dict[Label, float] = defaultdict(float)
    for c in counts:
        n = sum(c.values())
        observed += sum(k * (k - 1) for k in c.values()) / (n * (n - 1))
        for label, k in c.items():
            shares[label] += k / n
    observed /= len(counts)
    chance = sum((s / len(counts)) ** 2 for s in shares.values())
    if chance >= 1.0 - 1e-12:
        return None
    return (observed - chance) / (1.0 - chance)


def nominal_alpha(items: Iterable[Sequence[Label]]) -> float | None:
    """Krippendorff's nominal alpha from per-item label counts, without the dense array:
    1 - (n - 1) * sum_u (m_u^2 - sum_c n_uc^2) / (m_u - 1) / (n^2 - sum_c n_c^2)."""
    return _nominal(_rated(items))


def _nominal(counts: Sequence[Counts]) -> float | None:
    if len(counts) < MIN_IMAGES:
        return None
    totals: Counts = {}
    disagreement = 0.0
    for c in counts:
        m = sum(c.values())
        disagreement += (m * m - sum(k * k for k in c.values())) / (m - 1)
        for label, k in c.items():
            totals[label] = totals.get(label, 0) + k
    n = sum(totals.values())
    expected = n * n - sum(k * k for k in totals.values())
    if expected == 0:
        return None
    return float(1.0 - (n - 1) * disagreement / expected)


def krippendorff_alpha(items: Iterable[Sequence[Label]]) -> float | None:
    """Krippendorff's nominal alpha by the package, over the labels actually used."""
    return _alpha(_rated(items))


def _alpha(counts: Sequence[Counts]) -> float | None:
    if len(counts) < MIN_IMAGES:
        return None
    domain = sorted({label for c in counts for label in c}, key=repr)
    if len(domain) < 2:
        return None
    split = [c for c in counts if len(c) > 1]
    if (len(split) + len(domain)) * len(domain) ** 2 > DENSE_BUDGET:
        return _nominal(counts)
    column = {label: i for i, label in enumerate(domain)}
    table = np.zeros((len(split) + len(domain), len(domain)), dtype=np.int64)
    for row, c in enumerate(split):
        for label, k in c.items():
            table[row, column[label]] = k
    for c in counts:
        if len(c) == 1:
            ((label, k),) = c.items()
            table[len(split) + column[label], column[label]] += k
    return _package_alpha(table)


def _package_alpha(table: np.ndarray) -> float:
    """The package's alpha on a count table whose unanimous items of each label are
    folded into one item (the callers build it so). A unanimous item of m opinions adds
    m to its label's diagonal coincidence however it is grouped, so alpha is unchanged,
    and the package's items x labels x labels array shrinks to the split items."""
    table = table[table.sum(axis=1) > 0]  # a label with no unanimous item: an empty row
    return float(krippendorff.alpha(value_counts=table, level_of_measurement="nominal"))


def cohen_kappa(pairs: Sequence[tuple[Label, Label]]) -> float | None:
    """Cohen's kappa of two raters; each pair is (first rater's label, second's)."""
    if len(pairs) < MIN_IMAGES:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    chance = sum(first[label] * second[label] for label in first) / (n * n)
    if chance >= 1.0 - 1e-12:
        return None
    return (observed - chance) / (1.0 - chance)


def _pairs(items: Sequence[Item]) -> list[PairAgreement]:
    shared: dict[tuple[int, int], list[tuple[Label, Label]]] = defaultdict(list)
    for item in items:
        said = sorted(((r, lb) for r, lb in item.opinions if r is not None), key=lambda o: o[0])
        for (r1, l1), (r2, l2) in itertools.combinations(said, 2):
            if r1 != r2:
                shared[(r1, r2)].append((l1, l2))
    return [
        PairAgreement(
            raters=raters,
            images=len(pairs),
            agreement=sum(a == b for a, b in pairs) / len(pairs),
            kappa=cohen_kappa(pairs),
        )
        for raters, pairs in sorted(shared.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]


def _raters(items: Sequence[Item]) -> list[RaterAgreement]:
    given: Counter[int] = Counter()
    compared: Counter[int] = Counter()
    agreed: Counter[int] = Counter()
    for item in items:
        for rater, label in item.opinions:
            if rater is None:
                continue
            given[rater] += 1
            if item.settled:
                compared[rater] += 1
                agreed[rater] += label == item.final
    return [
        RaterAgreement(
            rater=r,
            labels=given[r],
            compared=compared[r],
            agreement_with_final=agreed[r] / compared[r] if compared[r] else None,
        )
        for r in sorted(given, key=lambda r: (-given[r], r))
    ]


def _one_vs_rest(
    rows: dict[int, int], raters: np.ndarray, total: int
) -> tuple[float | None, float | None]:
    """Fleiss' kappa and the package's alpha of "this label or not", from the items the
    label was said on only (``rows``: item -> how many said it): every other item is a
    unanimous "not", which adds exactly 1 to Fleiss' per-item mean and its opinions to
    alpha's "not" diagonal (see ``_package_alpha``)."""
    items = len(raters)
    if items < MIN_IMAGES:
        return None, None
    said = np.fromiter(rows.values(), dtype=np.int64, count=len(rows))
    of = raters[np.fromiter(rows.keys(), dtype=np.int64, count=len(rows))]
    rest = of - said
    per_item = (said * (said - 1) + rest * (rest - 1)) / (of * (of - 1))
    observed = (items - len(rows) + float(per_item.sum())) / items
    share = float((said / of).sum()) / items
    chance = share**2 + (1.0 - share) ** 2
    if chance >= 1.0 - 1e-12:
        return None, None
    kappa = (observed - chance) / (1.0 - chance)
    split = rest > 0
    table = np.vstack(
        [
            np.column_stack([said[split], rest[split]]),
            [[int(said[~split].sum()), 0], [0, total - int(of.sum())]],
        ]
    )
    return kappa, _package_alpha(table)


def _labels(counts: Sequence[Counts]) -> list[LabelAgreement]:
    """Each label against the rest, over the items it was said on."""
    raters = np.array([sum(c.values()) for c in counts], dtype=np.int64)
    total = int(raters.sum())
    where: dict[Label, dict[int, int]] = defaultdict(dict)
    for row, c in enumerate(counts):
        for label, k in c.items():
            where[label][row] = k
    out = []
    for label, rows in sorted(where.items(), key=lambda kv: (-sum(kv[1].values()), repr(kv[0]))):
        opinions = sum(rows.values())
        agreeing = sum(k * (k - 1) / (raters[row] - 1) for row, k in rows.items())
        kappa, alpha = _one_vs_rest(rows, raters, total)
        out.append(
            LabelAgreement(
                label=label,
                opinions=opinions,
                images=len(rows),
                agreement=float(agreeing) / opinions,
                kappa=kappa,
                alpha=alpha,
            )
        )
    return out


def _confusions(items: Sequence[Item]) -> list[Confusion]:
    found: dict[tuple[Label, Label], list[int]] = defaultdict(list)
    for item in items:
        said = sorted({label for _, label in item.opinions}, key=repr)
        for pair in itertools.combinations(said, 2):
            found[pair].append(item.key)
    ranked = sorted(found.items(), key=lambda kv: (-len(kv[1]), repr(kv[0])))
    return [Confusion(labels, sorted(keys)) for labels, keys in ranked]


def report(items: Sequence[Item]) -> Report:
    """Everything the agreement page and API show, over the items with two or more opinions."""
    kept = [item for item in items if len(item.opinions) >= 2]
    counts = [_count(label for _, label in item.opinions) for item in kept]
    return Report(
        images=len(kept),
        kappa=_fleiss(counts),
        alpha=_alpha(counts),
        pairs=_pairs(kept),
        raters=_raters(kept),
        labels=_labels(counts),
        confusions=_confusions(kept),
    )
