"""The category tree over the API: paths, moves, order, shortcuts and bad input."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.taxonomy.models import Category
from app.taxonomy.service import RESERVED_KEYS, SHORTCUT_KEYS
from tests.conftest import ClientFor


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


@pytest.fixture
def pid(api: TestClient) -> int:
    return int(api.post("/api/v1/projects", json={"name": "Glassware"}).json()["id"])


def add(api: TestClient, pid: int, name: str, parent: int | None = None, **extra: object) -> dict:
    resp = api.post(
        f"/api/v1/projects/{pid}/categories", json={"name": name, "parent_id": parent, **extra}
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def paths(api: TestClient, pid: int) -> list[str]:
    return [c["path"] for c in api.get(f"/api/v1/projects/{pid}/categories").json()]


def count(db: Session) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Category)) or 0


def test_a_tree_of_any_depth_with_paths(api: TestClient, pid: int) -> None:
    glass = add(api, pid, "glass", description="Anything made of glass")
    wine = add(api, pid, "wine glass", glass["id"])
    add(api, pid, "beer glass", glass["id"])
    dog = add(api, pid, "dog")
    hound = add(api, pid, "hound", dog["id"])
    lab = add(api, pid, "labrador", hound["id"])
    assert wine["path"] == "glass/wine glass"
    assert wine["parent_id"] == glass["id"]
    assert lab["path"] == "dog/hound/labrador"
    assert lab["depth"] == 3
    # Flat, parents before children, siblings in creation order.
    assert paths(api, pid) == [
        "glass",
        "glass/wine glass",
        "glass/beer glass",
        "dog",
        "dog/hound",
        "dog/hound/labrador",
    ]


def test_shortcuts_and_colors_are_assigned_and_unique(api: TestClient, pid: int) -> None:
    made = [add(api, pid, f"c{i}") for i in range(len(SHORTCUT_KEYS) + 2)]
    keys = [c["shortcut"] for c in made]
    assert keys[:11] == [*"1234567890", "b"]
    assert keys[-2:] == [None, None]  # every key is taken
    assert not RESERVED_KEYS & set(filter(None, keys))
    assert all(c["color"].startswith("#") and len(c["color"]) == 7 for c in made)
    # Freeing a key lets another category take it.
    api.patch(f"/api/v1/categories/{made[0]['id']}", json={"shortcut": None})
    resp = api.patch(f"/api/v1/categories/{made[-1]['id']}", json={"shortcut": "1"})
    assert resp.json()["shortcut"] == "1"


def test_shortcut_conflicts_and_reserved_keys(api: TestClient, pid: int, db: Session) -> None:
    first = add(api, pid, "first", shortcut="K")
    assert first["shortcut"] == "k"
    taken = api.post(f"/api/v1/projects/{pid}/categories", json={"name": "x", "shortcut": "k"})
    assert taken.status_code == 409
    assert taken.json()["detail"] == "The shortcut 'k' is already used by 'first'."
    for key in ("r", "?", "é", "ab"):
        bad = api.post(f"/api/v1/projects/{pid}/categories", json={"name": "x", "shortcut": key})
        assert bad.status_code == 422, key
    assert count(db) == 1


def test_rename_move_and_reorder(api: TestClient, pid: int) -> None:
    glass = add(api, pid, "glass")
    cup = add(api, pid, "cup")
    mug = add(api, pid, "mug")
    moved = api.patch(f"/api/v1/categories/{mug['id']}", json={"parent_id": glass["id"]})
    assert moved.json()["path"] == "glass/mug"
    renamed = api.patch(f"/api/v1/categories/{cup['id']}", json={"name": "teacup"})
    assert renamed.json()["path"] == "teacup"
    api.patch(f"/api/v1/categories/{cup['id']}", json={"position": 0})
    assert paths(api, pid) == ["teacup", "glass", "glass/mug"]
    to_root = api.patch(f"/api/v1/categories/{mug['id']}", json={"parent_id": None})
    assert to_root.json()["path"] == "mug"
    assert paths(api, pid) == ["teacup", "glass", "mug"]
    # Sending only a description leaves the parent alone.
    api.patch(f"/api/v1/categories/{cup['id']}", json={"description": "small"})
    assert api.get(f"/api/v1/categories/{cup['id']}").json()["parent_id"] is None


def test_moves_that_make_a_cycle_are_refused(api: TestClient, pid: int) -> None:
    a = add(api, pid, "a")
    b = add(api, pid, "b", a["id"])
    c = add(api, pid, "c", b["id"])
    for target in (a, b, c):
        resp = api.patch(f"/api/v1/categories/{a['id']}", json={"parent_id": target["id"]})
        assert resp.status_code == 409
        assert resp.json()["detail"] == "That move would put the category inside itself."
    assert paths(api, pid) == ["a", "a/b", "a/b/c"]


def test_names_are_unique_among_siblings_only(api: TestClient, pid: int, db: Session) -> None:
    dog = add(api, pid, "dog")
    cat = add(api, pid, "cat")
    add(api, pid, "small", dog["id"])
    add(api, pid, "small", cat["id"])  # same name, other parent: fine
    dup = api.post(f"/api/v1/projects/{pid}/categories", json={"name": " DOG "})
    assert dup.status_code == 409
    assert dup.json()["detail"] == "A category named 'dog' already exists at the top level."
    clash = api.patch(f"/api/v1/categories/{cat['id']}", json={"name": "Dog"})
    assert clash.status_code == 409
    small_under_cat = api.get(f"/api/v1/projects/{pid}/categories").json()[-1]
    move = api.patch(f"/api/v1/categories/{small_under_cat['id']}", json={"parent_id": dog["id"]})
    assert move.status_code == 409
    assert count(db) == 4


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": "a/b"},
        {"name": "a\\b"},
        {"name": ".."},
        {"name": "tab\there"},
        {"name": "ok", "color": "red"},
        {"name": "ok", "color": "#12345"},
        {"name": "ok", "parent_id": 0},
        {"name": "ok", "parent_id": 2**40},
        {"name": "ok", "kind": "x"},
    ],
)
def test_bad_category_input(api: TestClient, pid: int, db: Session, body: dict) -> None:
    resp = api.post(f"/api/v1/projects/{pid}/categories", json=body)
    assert resp.status_code == 422
    assert isinstance(resp.json()["detail"], str)
    assert count(db) == 0


def test_parents_must_belong_to_the_same_project(api: TestClient, pid: int, db: Session) -> None:
    other = api.post("/api/v1/projects", json={"name": "Other"}).json()["id"]
    foreign = add(api, other, "foreign")
    mine = add(api, pid, "mine")
    resp = api.post(
        f"/api/v1/projects/{pid}/categories", json={"name": "x", "parent_id": foreign["id"]}
    )
    assert resp.status_code == 422
    assert "is not a category of this project" in resp.json()["detail"]
    move = api.patch(f"/api/v1/categories/{mine['id']}", json={"parent_id": foreign["id"]})
    assert move.status_code == 422
    assert count(db) == 2


def test_delete_leaves_and_refuse_parents(api: TestClient, pid: int) -> None:
    glass = add(api, pid, "glass")
    wine = add(api, pid, "wine", glass["id"])
    refused = api.delete(f"/api/v1/categories/{glass['id']}")
    assert refused.status_code == 409
    assert "has 1 sub-categories" in refused.json()["detail"]
    assert api.delete(f"/api/v1/categories/{wine['id']}").status_code == 204
    assert api.delete(f"/api/v1/categories/{glass['id']}").status_code == 204
    assert api.get(f"/api/v1/categories/{glass['id']}").status_code == 404
    assert paths(api, pid) == []


def test_who_may_see_and_edit_the_taxonomy(
    api: TestClient, api_as: ClientFor, pid: int, labeler: User, manager: User
) -> None:
    glass = add(api, pid, "glass")
    lena = api_as(labeler)
    # Not a member: nothing is visible.
    assert lena.get(f"/api/v1/projects/{pid}/categories").status_code == 404
    assert lena.get(f"/api/v1/categories/{glass['id']}").status_code == 404
    assert lena.patch(f"/api/v1/categories/{glass['id']}", json={"name": "x"}).status_code == 404
    api.post(f"/api/v1/projects/{pid}/members", json={"username": "lena"})
    # A labeler member sees it and cannot change it; a manager can.
    assert paths(lena, pid) == ["glass"]
    assert lena.patch(f"/api/v1/categories/{glass['id']}", json={"name": "x"}).status_code == 403
    assert lena.delete(f"/api/v1/categories/{glass['id']}").status_code == 403
    new = lena.post(f"/api/v1/projects/{pid}/categories", json={"name": "y"})
    assert new.status_code == 403
    # A global manager outside the project sees nothing either; as its manager, they edit.
    mona = api_as(manager)
    assert mona.patch(f"/api/v1/categories/{glass['id']}", json={"name": "x"}).status_code == 404
    api.post(f"/api/v1/projects/{pid}/members", json={"username": "mona", "role": "manager"})
    assert mona.patch(f"/api/v1/categories/{glass['id']}", json={"name": "x"}).status_code == 200


def test_archived_projects_keep_their_taxonomy_frozen(api: TestClient, pid: int) -> None:
    glass = add(api, pid, "glass")
    api.patch(f"/api/v1/projects/{pid}", json={"archived": True})
    assert api.post(f"/api/v1/projects/{pid}/categories", json={"name": "x"}).status_code == 409
    assert api.patch(f"/api/v1/categories/{glass['id']}", json={"name": "x"}).status_code == 409
    assert api.delete(f"/api/v1/categories/{glass['id']}").status_code == 409
    assert paths(api, pid) == ["glass"]


def test_markup_in_names_is_data(api: TestClient, pid: int) -> None:
    node = add(api, pid, "<img src=x onerror=alert(1)>", description="<script>x</script>")
    assert node["name"] == "<img src=x onerror=alert(1)>"
    assert node["description"] == "<script>x</script>"


def test_depth_is_limited_on_create_and_move(api: TestClient, pid: int) -> None:
    parent = None
    for level in range(20):
        parent = add(api, pid, f"l{level}", parent["id"] if parent else None)
    assert parent is not None
    too_deep = api.post(
        f"/api/v1/projects/{pid}/categories", json={"name": "x", "parent_id": parent["id"]}
    )
    assert too_deep.status_code == 422
    assert "deeper than 20 levels" in too_deep.json()["detail"]
    branch = add(api, pid, "branch")
    add(api, pid, "leaf", branch["id"])
    # Moving a two-level branch under level 19 would make 21 levels.
    level19 = api.get(f"/api/v1/projects/{pid}/categories").json()[18]
    move = api.patch(f"/api/v1/categories/{branch['id']}", json={"parent_id": level19["id"]})
    assert move.status_code == 422


def test_moving_away_closes_the_gap(api: TestClient, pid: int) -> None:
    a = add(api, pid, "a")
    add(api, pid, "b")
    add(api, pid, "c")
    other = add(api, pid, "other")
    api.patch(f"/api/v1/categories/{a['id']}", json={"parent_id": other["id"]})
    positions = {
        x["name"]: x["position"] for x in api.get(f"/api/v1/projects/{pid}/categories").json()
    }
    assert (positions["b"], positions["c"], positions["other"]) == (0, 1, 2)
    assert positions["a"] == 0


def test_a_race_past_the_checks_is_a_409_not_a_500(
    api: TestClient, pid: int, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.taxonomy import service

    add(api, pid, "glass")
    # Two requests can both pass the service's check before either commits; the
    # database's unique constraint is what stops the second one.
    monkeypatch.setattr(service, "_check_name_free", lambda *args, **kwargs: None)
    resp = api.post(f"/api/v1/projects/{pid}/categories", json={"name": "Glass"})
    assert resp.status_code == 409
    assert "at the same moment" in resp.json()["detail"]
    assert count(db) == 1
