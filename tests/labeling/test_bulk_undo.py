"""Undoing one bulk action of the grid as one step: every image gets back the label it
had before, through new undo rows; nothing is undone if any image changed since."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.auth.models import User
from tests.conftest import ClientFor, UserFactory
from tests.labeling.helpers import arrange, join, label


def bulk(api: TestClient, pid: int, key: str, **body: Any) -> Any:
    resp = api.post(
        f"/api/v1/projects/{pid}/annotations/bulk", json=body, headers={"Idempotency-Key": key}
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def undo(api: TestClient, pid: int, key: object) -> Any:
    return api.post(f"/api/v1/projects/{pid}/annotations/bulk/undo", json={"idempotency_key": key})


def current(api: TestClient, image_id: int) -> tuple[int | None, bool]:
    image = api.get(f"/api/v1/images/{image_id}").json()
    return image["category_id"], image["status"] == "rejected"


def test_undo_restores_each_image_to_its_own_previous_label(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    s = arrange(api, images=4)
    wine, beer = s.categories["wine"], s.categories["beer"]
    a, b, c, d = s.image_ids
    label(api, a, wine)
    label(api, b, beer)
    api.post(f"/api/v1/images/{c}/annotations", json={"rejected": True, "reason": "blurry"})
    before = {i: current(api, i) for i in s.image_ids}
    made = bulk(api, s.pid, "grid-a", image_ids=[a, b, c, d], category_id=beer)
    assert all(current(api, i) == (beer, False) for i in s.image_ids)
    resp = undo(api, s.pid, "grid-a")
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["created"] == 4
    assert {x["source"] for x in out["annotations"]} == {"undo"}
    assert sorted(x["undoes_id"] for x in out["annotations"]) == sorted(
        x["id"] for x in made["annotations"]
    )
    assert {i: current(api, i) for i in s.image_ids} == before
    # Append-only: every image keeps the bulk row and gains the undo row.
    history = api.get(f"/api/v1/images/{c}/annotations").json()
    assert [h["source"] for h in history][-1] == "undo"
    assert history[-1]["reason"] == "blurry"
    # Twice is refused, and changes nothing.
    again = undo(api, s.pid, "grid-a")
    assert again.status_code == 409
    assert "already been undone" in again.json()["detail"]
    assert {i: current(api, i) for i in s.image_ids} == before


def test_nothing_is_undone_when_an_image_was_labeled_again_since(
    api_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    api = api_as(admin)
    s = arrange(api, images=3)
    wine, beer = s.categories["wine"], s.categories["beer"]
    bulk(api, s.pid, "grid-b", image_ids=s.image_ids, category_id=wine)
    other = make_user(username="other")
    join(api, s.pid, "other")
    label(api_as(other), s.image_ids[1], beer)
    resp = undo(api, s.pid, "grid-b")
    assert resp.status_code == 409
    assert f"labeled again since that action: {s.image_ids[1]}" in resp.json()["detail"]
    assert current(api, s.image_ids[0]) == (wine, False)
    assert current(api, s.image_ids[1]) == (beer, False)


def test_only_your_own_action_in_this_project_can_be_undone(
    api_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    api = api_as(admin)
    s = arrange(api, images=2)
    bulk(api, s.pid, "grid-c", image_ids=s.image_ids, category_id=s.categories["wine"])
    labeler = make_user(username="lab")
    join(api, s.pid, "lab")
    # Keys are per user: the labeler's "grid-c" names nothing.
    assert undo(api_as(labeler), s.pid, "grid-c").status_code == 404
    elsewhere = arrange(api, images=1, name="Elsewhere")
    assert undo(api, elsewhere.pid, "grid-c").status_code == 404
    assert current(api, s.image_ids[0]) == (s.categories["wine"], False)


def test_malformed_hostile_and_oversized_bodies_are_refused(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    s = arrange(api, images=1)
    url = f"/api/v1/projects/{s.pid}/annotations/bulk/undo"
    for body in ({}, {"idempotency_key": ""}, {"idempotency_key": "k" * 201},
                 {"idempotency_key": 5}, {"idempotency_key": "x", "extra": 1}):  # fmt: skip
        assert api.post(url, json=body).status_code == 422, body
    assert undo(api, s.pid, "' OR 1=1 --").status_code == 404
    assert (
        api.post(url, content=b"\xff\xfe", headers={"Content-Type": "application/json"}).status_code
        == 422
    )
