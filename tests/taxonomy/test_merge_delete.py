"""Merging categories and deleting labeled ones: labels move, none is lost."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import User
from app.images.models import ImageStatus
from app.labeling.service import annotate
from tests.conftest import ClientFor, UserFactory
from tests.taxonomy.labeled import history, ids, image, labeled_project, states


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


@pytest.fixture
def pid(api: TestClient) -> int:
    return labeled_project(api)


def relabel(db: Session, filename: str, category_id: int | None, rejected: bool = False) -> None:
    annotate(db, image(db, filename), None, category_id=category_id, rejected=rejected)
    db.commit()


def test_merge_moves_labels_history_and_children(api: TestClient, pid: int, db: Session) -> None:
    c = ids(api, pid)
    tumbler = api.post(
        f"/api/v1/projects/{pid}/categories", json={"name": "tumbler", "parent_id": c["cup"]}
    ).json()
    # c2 was a cup, then rejected: its history names cup, its status must stay rejected.
    relabel(db, "c2.jpg", None, rejected=True)
    before_history, before = history(db), states(db)

    resp = api.post(f"/api/v1/categories/{c['cup']}/merge", json={"into_id": c["glass"]})
    assert resp.status_code == 200, resp.text
    assert resp.json()["path"] == "glass"
    assert resp.json()["image_count"] == 2  # g1 and c1 now
    assert resp.json()["subtree_count"] == 5

    after = ids(api, pid)
    assert "cup" not in after
    assert after["glass/tumbler"] == tumbler["id"]
    moved: dict[int | None, int | None] = {c["cup"]: c["glass"]}
    assert history(db) == [(i, moved.get(k, k), r) for i, k, r in before_history]
    assert len(history(db)) == len(before_history)
    assert states(db) == {f: (s, moved.get(k, k)) for f, (s, k) in before.items()}
    assert states(db)["c2.jpg"] == (ImageStatus.rejected, None)
    assert states(db)["c1.jpg"] == (ImageStatus.labeled, c["glass"])


def test_merge_appends_children_after_the_targets_own(api: TestClient, pid: int) -> None:
    c = ids(api, pid)
    api.post(f"/api/v1/projects/{pid}/categories", json={"name": "mug", "parent_id": c["cup"]})
    kids = [p.split("/")[1] for p in ids(api, pid) if p.startswith("glass/")]
    api.post(f"/api/v1/categories/{c['glass']}/merge", json={"into_id": c["cup"]})
    cats = api.get(f"/api/v1/projects/{pid}/categories").json()
    assert [x["path"] for x in cats] == ["cup", "cup/mug", *(f"cup/{k}" for k in kids)]
    assert [x["position"] for x in cats[1:]] == [0, 1, 2]


def test_merge_refuses_bad_targets(
    api: TestClient, pid: int, db: Session, api_as: ClientFor, admin: User
) -> None:
    c = ids(api, pid)
    other = labeled_project(api, "Other", seed=100)
    theirs = ids(api, other)
    before = (history(db), states(db), ids(api, pid))
    url = f"/api/v1/categories/{c['glass']}/merge"
    itself = api.post(url, json={"into_id": c["glass"]})
    assert itself.status_code == 422
    assert "itself" in itself.json()["detail"]
    inside = api.post(url, json={"into_id": c["glass/wine"]})
    assert inside.status_code == 409
    assert "inside" in inside.json()["detail"]
    elsewhere = api.post(url, json={"into_id": theirs["cup"]})
    assert elsewhere.status_code == 422
    assert "not a category of this project" in elsewhere.json()["detail"]
    assert api.post(url, json={"into_id": 999_999}).status_code == 422
    for body in ({}, {"into_id": "x"}, {"into_id": 0}, {"into_id": c["cup"], "extra": 1}):
        assert api.post(url, json=body).status_code == 422, body
    assert (
        api.post("/api/v1/categories/999999/merge", json={"into_id": c["cup"]}).status_code == 404
    )
    assert (history(db), states(db), ids(api, pid)) == before


def test_merge_folds_same_named_children_together_recursively(
    api: TestClient, pid: int, db: Session
) -> None:
    c = ids(api, pid)

    def add(name: str, parent: int) -> int:
        made = api.post(
            f"/api/v1/projects/{pid}/categories", json={"name": name, "parent_id": parent}
        )
        assert made.status_code == 201, made.text
        return int(made.json()["id"])

    cup_wine = add("Wine", c["cup"])
    cup_red = add("red", cup_wine)
    add("red", c["glass/wine"])
    add("white", c["glass/wine"])
    before_history, before = history(db), states(db)

    resp = api.post(f"/api/v1/categories/{c['glass']}/merge", json={"into_id": c["cup"]})
    assert resp.status_code == 200, resp.text
    after = ids(api, pid)
    # One "Wine" and one "red": the glass side folded into the cup side, the rest moved.
    assert sorted(after) == ["cup", "cup/Wine", "cup/Wine/red", "cup/Wine/white", "cup/beer"]
    assert (after["cup/Wine"], after["cup/Wine/red"]) == (cup_wine, cup_red)
    moved = {c["glass"]: c["cup"], c["glass/wine"]: cup_wine}
    assert states(db)["w1.jpg"] == (ImageStatus.labeled, cup_wine)
    assert states(db)["g1.jpg"] == (ImageStatus.labeled, c["cup"])
    assert states(db)["b1.jpg"] == (ImageStatus.labeled, c["glass/beer"])  # moved as it is
    assert history(db) == [(i, moved.get(k, k), r) for i, k, r in before_history]
    assert states(db) == {f: (st, moved.get(k, k)) for f, (st, k) in before.items()}
    counts = {
        x["path"]: x["subtree_count"] for x in api.get(f"/api/v1/projects/{pid}/categories").json()
    }
    assert counts["cup"] == 6  # c1, c2, g1, w1, w2, b1


def test_merge_and_delete_need_a_manager(
    api: TestClient, pid: int, api_as: ClientFor, labeler: User, make_user: UserFactory
) -> None:
    c = ids(api, pid)
    api.post(f"/api/v1/projects/{pid}/members", json={"username": labeler.username})
    lena = api_as(labeler)
    merge = lena.post(f"/api/v1/categories/{c['cup']}/merge", json={"into_id": c["glass"]})
    assert merge.status_code == 403
    assert lena.delete(f"/api/v1/categories/{c['cup']}?move_to={c['glass']}").status_code == 403
    outsider = api_as(make_user())
    merge = outsider.post(f"/api/v1/categories/{c['cup']}/merge", json={"into_id": c["glass"]})
    assert merge.status_code == 404
    assert outsider.delete(f"/api/v1/categories/{c['cup']}?labels=parent").status_code == 404
    assert "cup" in ids(api, pid)


def test_deleting_a_labeled_category_asks_where_the_labels_go(
    api: TestClient, pid: int, db: Session
) -> None:
    c = ids(api, pid)
    before = (history(db), states(db))
    resp = api.delete(f"/api/v1/categories/{c['glass/wine']}")
    assert resp.status_code == 409
    detail = resp.json()["detail"]
    assert "2 labels" in detail
    assert "labels=parent" in detail
    assert "move_to" in detail
    assert (history(db), states(db)) == before

    # Only its history names it (w1 was relabeled): still labels, still refused.
    relabel(db, "w1.jpg", c["cup"])
    relabel(db, "w2.jpg", c["cup"])
    assert api.delete(f"/api/v1/categories/{c['glass/wine']}").status_code == 409


def test_delete_moving_labels_to_the_parent(api: TestClient, pid: int, db: Session) -> None:
    c = ids(api, pid)
    relabel(db, "w2.jpg", None, rejected=True)
    before_history, before = history(db), states(db)
    resp = api.delete(f"/api/v1/categories/{c['glass/wine']}?labels=parent")
    assert resp.status_code == 204, resp.text
    assert "glass/wine" not in ids(api, pid)
    moved: dict[int | None, int | None] = {c["glass/wine"]: c["glass"]}
    assert history(db) == [(i, moved.get(k, k), r) for i, k, r in before_history]
    assert states(db) == {f: (s, moved.get(k, k)) for f, (s, k) in before.items()}
    assert states(db)["w2.jpg"] == (ImageStatus.rejected, None)


def test_delete_moving_labels_to_another_category(api: TestClient, pid: int, db: Session) -> None:
    c = ids(api, pid)
    resp = api.delete(f"/api/v1/categories/{c['cup']}?move_to={c['glass/beer']}")
    assert resp.status_code == 204, resp.text
    assert states(db)["c1.jpg"] == (ImageStatus.labeled, c["glass/beer"])
    beer = next(
        x for x in api.get(f"/api/v1/projects/{pid}/categories").json() if x["name"] == "beer"
    )
    assert beer["image_count"] == 3


def test_delete_with_labels_refuses_bad_choices(
    api: TestClient, pid: int, db: Session, api_as: ClientFor
) -> None:
    c = ids(api, pid)
    theirs = ids(api, labeled_project(api, "Other", seed=100))
    before = (history(db), states(db), ids(api, pid))
    root = api.delete(f"/api/v1/categories/{c['cup']}?labels=parent")
    assert root.status_code == 409
    assert "choose another category" in root.json()["detail"]
    for query, status in (
        (f"move_to={c['cup']}", 422),
        (f"move_to={theirs['cup']}", 422),
        ("move_to=999999", 422),
        ("move_to=abc", 422),
        ("labels=sibling", 422),
        (f"labels=parent&move_to={c['glass']}", 422),
    ):
        assert api.delete(f"/api/v1/categories/{c['cup']}?{query}").status_code == status, query
    # Children still block deletion, whatever the labels' choice.
    kids = api.delete(f"/api/v1/categories/{c['glass']}?move_to={c['cup']}")
    assert kids.status_code == 409
    assert "sub-categories" in kids.json()["detail"]
    assert (history(db), states(db), ids(api, pid)) == before


def test_an_unlabeled_category_still_deletes_plainly(api: TestClient, pid: int) -> None:
    empty = api.post(f"/api/v1/projects/{pid}/categories", json={"name": "plate"}).json()
    assert api.delete(f"/api/v1/categories/{empty['id']}").status_code == 204
    assert "plate" not in ids(api, pid)
    assert "cup" in ids(api, pid)


def test_merging_into_the_parent_frees_the_merged_name(api: TestClient, pid: int) -> None:
    c = ids(api, pid)
    new = f"/api/v1/projects/{pid}/categories"
    api.post(new, json={"name": "Wine", "parent_id": c["glass/wine"]})
    # glass/wine/beer folds into glass/beer; glass/wine/Wine takes the freed name.
    api.post(new, json={"name": "beer", "parent_id": c["glass/wine"]})
    merged = api.post(f"/api/v1/categories/{c['glass/wine']}/merge", json={"into_id": c["glass"]})
    assert merged.status_code == 200, merged.text
    assert merged.json()["subtree_count"] == 4
    assert set(ids(api, pid)) == {"glass", "glass/beer", "glass/Wine", "cup"}
