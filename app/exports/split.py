"""The stratified train/val/test split: pure, seeded, deterministic.

The split is decided per class over *units*: a near-duplicate group is one unit (so a
group never straddles two splits), any other image is a unit of one. A group whose
images carry different classes is stratified under its most common class (ties: the
smallest class id).

Per class, the number of images each split should get comes from the largest-remainder
method, so every split is within one image of ``ratio * n``. A class with at least one
image always keeps one in train (when train's ratio is positive): a model cannot learn
a class it never saw, while a class missing from val or test only weakens its estimate.
Units are shuffled with a generator seeded by (seed, class id), then placed largest
first, each into the split furthest below its target. With units of one image this
meets the targets exactly; groups can overshoot by at most the group's size.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from app.exports.options import Ratios


@dataclass(frozen=True, slots=True)
class Unit:
    key: int  # any id unique among units: the split is reported under it
    class_id: int
    size: int = 1


def allocate(n: int, ratios: Ratios) -> tuple[int, int, int]:
    """How many of ``n`` images go to train, val and test."""
    exact = [n * r for r in ratios]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(3), key=lambda i: (-round(exact[i] - counts[i], 9), i))
    for i in by_remainder[: max(0, n - sum(counts))]:
        counts[i] += 1
    if n > 0 and ratios[0] > 0 and counts[0] == 0:
        donor = max((1, 2), key=lambda i: (counts[i], -i))
        counts[donor] -= 1
        counts[0] += 1
    return counts[0], counts[1], counts[2]


def group_class(classes: Iterable[int]) -> int:
    """The class a mixed group is stratified under: the most common, then the smallest id."""
    counts = Counter(classes)
    return min(counts, key=lambda c: (-counts[c], c))


def assign(units: Iterable[Unit], ratios: Ratios, seed: int) -> dict[int, int]:
    """Each unit's split, by key: 0 train, 1 val, 2 test."""
    by_class: dict[int, list[Unit]] = {}
    for unit in units:
        by_class.setdefault(unit.class_id, []).append(unit)
    allowed = [i for i in range(3) if ratios[i] > 0]
    out: dict[int, int] = {}
    for class_id in sorted(by_class):
        members = sorted(by_class[class_id], key=lambda u: u.key)
        random.Random(f"{seed}:{class_id}").shuffle(members)  # noqa: S311 - reproducible, not secret
        members.sort(key=lambda u: -u.size)  # stable: the shuffle orders equal sizes
        target = allocate(sum(u.size for u in members), ratios)
        filled = [0, 0, 0]
        for unit in members:
            chosen = max(allowed, key=lambda i: (target[i] - filled[i], -i))
            filled[chosen] += unit.size
            out[unit.key] = chosen
    return out
