"""The train/val/test split through the API: ratios per class, seeds, duplicate groups."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from PIL import Image as PILImage
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.auth.models import User
from app.images.models import Image
from tests.conftest import ClientFor
from tests.exports.helpers import (
    export,
    files,
    images_by_name,
    jpeg,
    layout,
    manifest,
    new_project,
    upload_zip,
)

CLASSES = {"a/a1": 12, "a/a2": 8, "b": 10, "c": 5, "d": 1}


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


@pytest.fixture
def pid(api: TestClient) -> int:
    pid = new_project(api, "Split")
    upload_zip(api, pid, layout(CLASSES))
    return pid


def splits_of(names: list[str]) -> dict[str, str]:
    """file basename -> split, from <split>/<category path>/<file>."""
    return {n.rsplit("/", 1)[1]: n.split("/", 1)[0] for n in names}


def test_ratios_hold_per_class(api: TestClient, pid: int) -> None:
    names = files(export(api, pid, split="true", ratios="0.6,0.2,0.2", seed=3))
    assert len(names) == sum(CLASSES.values())
    counts = Counter((n.split("/", 1)[0], n.split("/", 1)[1].rsplit("/", 1)[0]) for n in names)
    expected = {
        "a/a1": (7, 3, 2),  # 7.2, 2.4, 2.4: the remainder goes to val
        "a/a2": (5, 2, 1),
        "b": (6, 2, 2),
        "c": (3, 1, 1),
        "d": (1, 0, 0),
    }
    for path, (train, val, test) in expected.items():
        assert (counts["train", path], counts["val", path], counts["test", path]) == (
            train, val, test
        ), path  # fmt: skip


def test_stratified_at_the_chosen_level(api: TestClient, pid: int) -> None:
    archive = export(api, pid, split="true", ratios="0.5,0.25,0.25", level=1)
    per_split = manifest(archive)["counts"]["per_split"]
    assert per_split["train"] == {"a": 10, "b": 5, "c": 3, "d": 1}
    assert per_split["val"] == {"a": 5, "b": 3, "c": 1}
    assert per_split["test"] == {"a": 5, "b": 2, "c": 1}


def test_same_seed_same_split_other_seed_other_split(api: TestClient, pid: int) -> None:
    first = files(export(api, pid, split="true", seed=11))
    assert files(export(api, pid, split="true", seed=11)) == first
    assert files(export(api, pid, split="true", format="csv", seed=11)) == sorted(
        f"images/{n}" for n in first
    )
    assert files(export(api, pid, split="true", seed=12)) != first


def test_near_duplicate_groups_stay_in_one_split(api: TestClient, pid: int, db: Session) -> None:
    images = sorted(images_by_name(db, pid).values(), key=lambda i: i.id)
    by_class: dict[int | None, list[Image]] = {}
    for image in images:
        by_class.setdefault(image.category_id, []).append(image)
    groups = []
    for members in by_class.values():
        for start in range(0, len(members) - 2, 3):  # groups of 3 where a class allows
            trio = members[start : start + 3]
            gid = trio[0].id
            db.execute(
                update(Image).where(Image.id.in_([i.id for i in trio])).values(dup_group_id=gid)
            )
            groups.append([i.filename.rsplit("/", 1)[1] for i in trio])
    db.commit()
    assert len(groups) >= 8
    for seed in range(6):
        where = splits_of(files(export(api, pid, split="true", seed=seed, ratios="0.4,0.3,0.3")))
        for group in groups:
            assert len({where[name] for name in group}) == 1, (seed, group)
        assert set(where.values()) == {"train", "val", "test"}


def test_a_group_across_classes_goes_where_its_majority_goes(
    api: TestClient, pid: int, db: Session
) -> None:
    images = images_by_name(db, pid)
    members = [images["img0-0.jpg"], images["img1-1.jpg"], images["img20-0.jpg"]]  # a1, a1, b
    db.execute(
        update(Image)
        .where(Image.id.in_([i.id for i in members]))
        .values(dup_group_id=members[0].id)
    )
    db.commit()
    for seed in range(4):
        where = splits_of(files(export(api, pid, split="true", seed=seed)))
        assert len({where[i.filename.rsplit("/", 1)[1]] for i in members}) == 1


def near_copy(data: bytes) -> bytes:
    out = io.BytesIO()
    PILImage.open(io.BytesIO(data)).resize((40, 27)).save(out, "JPEG", quality=60)
    return out.getvalue()


def test_groups_found_at_upload_are_kept_whole(api: TestClient, db: Session) -> None:
    pid = new_project(api, "Dups")
    entries = layout({"x": 6, "y": 6})
    entries["x/copy.jpg"] = near_copy(entries["x/img0-0.jpg"])
    upload_zip(api, pid, entries)
    images = images_by_name(db, pid)
    group = images["copy.jpg"].dup_group_id
    assert group is not None
    assert images["img0-0.jpg"].dup_group_id == group
    for seed in range(8):
        where = splits_of(files(export(api, pid, split="true", seed=seed, ratios="0.34,0.33,0.33")))
        assert where["copy.jpg"] == where["img0-0.jpg"]


def test_split_is_ignored_by_position_of_images_not_labeled(
    api: TestClient, pid: int, db: Session
) -> None:
    """Adding an unlabeled image does not reshuffle the labeled ones."""
    before = files(export(api, pid, split="true", seed=5))
    upload_zip(api, pid, {"loose.jpg": jpeg(999)}, labels=False)
    assert files(export(api, pid, split="true", seed=5)) == before
