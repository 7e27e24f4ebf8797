"""The pure parts: ratios, the split's arithmetic, and names inside the zip."""

from __future__ import annotations

from collections import Counter

import pytest

from app.errors import InvalidInput
from app.exports import naming
from app.exports.options import make_options, parse_ratios
from app.exports.split import Unit, allocate, assign, group_class


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,1,1", "sum to 3"),
        ("a,b,c", "not numbers"),
        ("0.5,0.5", "2 value(s)"),
        ("0.5,0.6,-0.1", ">= 0"),
        ("nan,0.5,0.5", ">= 0"),
        ("", "1 value(s)"),
    ],
)
def test_bad_ratios_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_ratios(text)
    assert "ratios" in err.value.detail
    assert message in err.value.detail


def test_ratios_parse() -> None:
    assert parse_ratios(" 0.7, 0.2 ,0.1") == pytest.approx((0.7, 0.2, 0.1))
    assert parse_ratios("1,0,0") == (1.0, 0.0, 0.0)


def test_options_refuse_unknown_format_and_level_zero() -> None:
    with pytest.raises(InvalidInput, match="format"):
        make_options("xml")
    with pytest.raises(InvalidInput, match="level"):
        make_options(level=0)


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, (0, 0, 0)), (1, (1, 0, 0)), (2, (2, 0, 0)), (5, (4, 1, 0)), (10, (8, 1, 1)),
     (100, (80, 10, 10)), (7, (5, 1, 1))],
)  # fmt: skip
def test_allocate_is_largest_remainder_with_train_first(n: int, expected: tuple) -> None:
    assert allocate(n, (0.8, 0.1, 0.1)) == expected


def test_allocate_keeps_one_in_train_for_a_tiny_class() -> None:
    assert allocate(1, (0.2, 0.4, 0.4)) == (1, 0, 0)
    assert allocate(2, (0.1, 0.45, 0.45))[0] == 1
    assert allocate(3, (0.0, 0.5, 0.5)) == (0, 2, 1)  # train's ratio 0: nothing forced


def test_assign_meets_per_class_targets_and_is_seeded() -> None:
    units = [Unit(i, i % 3) for i in range(300)]
    splits = assign(units, (0.6, 0.2, 0.2), seed=1)
    per = Counter((u.class_id, splits[u.key]) for u in units)
    for class_id in range(3):
        assert [per[class_id, s] for s in range(3)] == [60, 20, 20]
    assert assign(list(reversed(units)), (0.6, 0.2, 0.2), seed=1) == splits
    assert assign(units, (0.6, 0.2, 0.2), seed=2) != splits


def test_assign_never_uses_a_split_whose_ratio_is_zero() -> None:
    units = [Unit(-1, 0, size=5)] + [Unit(i, 0) for i in range(1, 4)]
    assert set(assign(units, (0.5, 0.5, 0.0), seed=0).values()) <= {0, 1}


def test_group_class_is_the_majority_then_smallest() -> None:
    assert group_class([3, 2, 3]) == 3
    assert group_class([5, 2]) == 2


def test_segments_round_trip_except_names_readers_refuse() -> None:
    assert naming.folder(["Asteraceae", "daisy"]) == "Asteraceae/daisy"
    assert naming.segment('l\'été "x"') == 'l\'été "x"'
    assert naming.segment("...") == "_..."
    assert naming.segment("C: drive") == "_C: drive"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("a/b/photo.JPG", "photo.JPG"),
        ("..\\..\\evil.jpg", "evil.jpg"),
        ("../..", "image-7.jpg"),
        (".hidden.jpg", "image-7.jpg"),
        ("noext", "noext.jpg"),
        ("x.zip", "image-7.jpg"),
        ("a\u202egpj.exe", "a_gpj.exe"),
        ("C:evil.png", "image-7.jpg"),
    ],
)
def test_basenames_are_safe(filename: str, expected: str) -> None:
    assert naming.basename(filename, 7, "jpeg") == expected


def test_unique_names_are_deterministic_and_case_blind() -> None:
    names = naming.UniqueNames()
    assert names.claim("a", "x.jpg", 1) == "a/x.jpg"
    assert names.claim("a", "X.JPG", 2) == "a/X-2.JPG"
    assert names.claim("b", "x.jpg", 3) == "b/x.jpg"
    assert names.claim("a", "x.jpg", 4) == "a/x-4.jpg"


def test_slug_is_plain_ascii() -> None:
    assert naming.slug('../../etc "x"; rm', "p") == "etc-x-rm"
    assert naming.slug("Fleurs d'été", "p") == "fleurs-d-ete"
    assert naming.slug("日本", "project-3") == "project-3"
