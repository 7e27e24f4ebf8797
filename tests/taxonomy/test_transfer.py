"""Taxonomy import and export, as JSON and as indented text."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.taxonomy.models import Category
from tests.conftest import ClientFor

# The botanical hierarchy of ../shared/datasets/flowers12 (family > species).
FLOWERS = """\
# family > species
Asteraceae
  daisy
  dandelion
  sunflower
  colts-foot
Ranunculaceae
  buttercup
  windflower
Liliaceae
  fritillary
  tigerlily
Asparagaceae
  bluebell
  lily-valley
Iridaceae
  iris
Violaceae
  pansy
"""


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


def new_project(api: TestClient, name: str) -> int:
    return int(api.post("/api/v1/projects", json={"name": name}).json()["id"])


def count(db: Session) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Category)) or 0


def test_indented_text_builds_the_flowers_tree(api: TestClient) -> None:
    pid = new_project(api, "Flowers")
    resp = api.post(f"/api/v1/projects/{pid}/taxonomy", json={"text": FLOWERS})
    assert resp.status_code == 200
    body = resp.json()
    assert (body["created"], body["existing"]) == (18, 0)
    paths = [c["path"] for c in body["categories"]]
    assert paths[:3] == ["Asteraceae", "Asteraceae/daisy", "Asteraceae/dandelion"]
    assert "Violaceae/pansy" in paths
    assert sum(1 for c in body["categories"] if c["depth"] == 2) == 12
    text = api.get(f"/api/v1/projects/{pid}/taxonomy", params={"format": "text"})
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == FLOWERS.split("\n", 1)[1]  # the same, less the comment


def test_importing_again_merges_instead_of_duplicating(api: TestClient, db: Session) -> None:
    pid = new_project(api, "Flowers")
    api.post(f"/api/v1/projects/{pid}/taxonomy", json={"text": FLOWERS})
    again = api.post(
        f"/api/v1/projects/{pid}/taxonomy", json={"text": FLOWERS + "Rosaceae\n  rose\n"}
    )
    assert (again.json()["created"], again.json()["existing"]) == (2, 18)
    assert count(db) == 20


def test_json_round_trip_keeps_everything(api: TestClient) -> None:
    source = new_project(api, "Source")
    glass = api.post(
        f"/api/v1/projects/{source}/categories",
        json={"name": "glass", "description": "**any** glass", "color": "#112233", "shortcut": "z"},
    ).json()
    api.post(
        f"/api/v1/projects/{source}/categories", json={"name": "wine", "parent_id": glass["id"]}
    )
    exported = api.get(f"/api/v1/projects/{source}/taxonomy").json()
    assert exported["categories"][0]["children"][0]["name"] == "wine"
    target = new_project(api, "Target")
    assert api.post(f"/api/v1/projects/{target}/taxonomy", json=exported).status_code == 200
    assert api.get(f"/api/v1/projects/{target}/taxonomy").json() == exported


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "a\n    b\n  c\n"}, "line 3: the indentation matches no level above"),
        ({"text": "    a\nb\n"}, "line 2: the indentation matches no level above"),
        ({"text": "ok\n  bad/name\n"}, "line 2: must not contain /"),
        ({"text": "x" * 101}, "line 1: String should have at most 100 characters"),
        ({"text": "dup\nDup\n"}, "Dup: listed twice under the same parent"),
        ({"text": "\n".join("  " * i + f"n{i}" for i in range(21))}, "deeper than 20 levels"),
        ({}, "send either 'categories' or 'text'"),
        ({"text": "a", "categories": []}, "send either 'categories' or 'text'"),
        ({"categories": [{"name": "a", "children": [{"name": ""}]}]}, "at least 1 character"),
    ],
)
def test_bad_imports_say_where_and_change_nothing(
    api: TestClient, db: Session, body: dict, message: str
) -> None:
    pid = new_project(api, "P")
    resp = api.post(f"/api/v1/projects/{pid}/taxonomy", json=body)
    assert resp.status_code == 422, resp.text
    assert message in resp.json()["detail"]
    assert count(db) == 0


def test_a_conflict_midway_rolls_the_whole_import_back(api: TestClient, db: Session) -> None:
    pid = new_project(api, "P")
    api.post(f"/api/v1/projects/{pid}/categories", json={"name": "first", "shortcut": "k"})
    tree = {"categories": [{"name": "new one"}, {"name": "second", "shortcut": "k"}]}
    resp = api.post(f"/api/v1/projects/{pid}/taxonomy", json=tree)
    assert resp.status_code == 409
    assert count(db) == 1


def test_only_managers_import(api: TestClient, api_as: ClientFor, labeler: User) -> None:
    pid = new_project(api, "P")
    api.post(f"/api/v1/projects/{pid}/members", json={"username": "lena"})
    lena = api_as(labeler)
    assert lena.get(f"/api/v1/projects/{pid}/taxonomy").status_code == 200
    assert lena.post(f"/api/v1/projects/{pid}/taxonomy", json={"text": "a"}).status_code == 403


@pytest.mark.parametrize("levels", [25, 5000])
def test_hostile_nesting_is_refused_cleanly(api: TestClient, db: Session, levels: int) -> None:
    pid = new_project(api, "P")
    body = '{"name": "x"}'
    for _ in range(levels):
        body = '{"name": "x", "children": [' + body + "]}"
    resp = api.post(
        f"/api/v1/projects/{pid}/taxonomy",
        content='{"categories": [' + body + "]}",
        headers={"content-type": "application/json"},
    )
    assert resp.status_code in (400, 422), resp.text
    assert isinstance(resp.json()["detail"], str)
    assert count(db) == 0
