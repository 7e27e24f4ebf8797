"""Annotations: bad input, idempotency, undo, bulk, overlap, counters."""

from __future__ import annotations

from app.auth.models import User
from tests.conftest import ClientFor, UserFactory
from tests.labeling.helpers import arrange, join, label, next_image


def test_bad_input_changes_nothing(api_as: ClientFor, admin: User, make_user: UserFactory) -> None:
    s = arrange(api_as(admin), images=1)
    other = arrange(api_as(admin), images=0, name="Other")
    api = api_as(admin)
    url = f"/api/v1/images/{s.image_ids[0]}/annotations"
    both = {"category_id": s.categories["wine"], "rejected": True}
    assert api.post(url, json=both).status_code == 422
    assert api.post(url, json={}).status_code == 422
    assert api.post(url, json={"rejected": True, "reason": "x" * 501}).status_code == 422
    resp = api.post(url, json={"category_id": other.categories["wine"]})
    assert resp.status_code == 422
    assert "not a category" in resp.json()["detail"]
    assert api.post("/api/v1/images/999999/annotations", json={"rejected": True}).status_code == 404
    assert api_as(make_user()).post(url, json={"rejected": True}).status_code == 404
    assert api.get(url).json() == []


def test_idempotency_key_stores_once(api_as: ClientFor, admin: User) -> None:
    s = arrange(api_as(admin), images=1)
    api = api_as(admin)
    first = label(api, s.image_ids[0], s.categories["wine"], key="k1")
    again = label(api, s.image_ids[0], s.categories["wine"], key="k1")
    assert first == again
    assert len(api.get(f"/api/v1/images/{s.image_ids[0]}/annotations").json()) == 1


def test_undo_twice_restores_two_steps(api_as: ClientFor, admin: User) -> None:
    s = arrange(api_as(admin), images=1)
    api = api_as(admin)
    iid, url = s.image_ids[0], f"/api/v1/projects/{s.pid}/undo"
    first = label(api, iid, s.categories["wine"])
    second = label(api, iid, s.categories["beer"])
    undo1 = api.post(url).json()
    assert undo1["undoes_id"] == second["id"]
    assert undo1["category_id"] == s.categories["wine"]
    assert undo1["source"] == "undo"
    undo2 = api.post(url).json()
    assert undo2["undoes_id"] == first["id"]
    assert undo2["category_id"] is None
    assert api.post(url).status_code == 409
    history = api.get(f"/api/v1/images/{iid}/annotations").json()
    assert [h["source"] for h in history] == ["manual", "manual", "undo", "undo"]


def test_bulk_is_all_or_nothing(api_as: ClientFor, admin: User) -> None:
    s = arrange(api_as(admin), images=3)
    other = arrange(api_as(admin), images=0, name="Other")
    api = api_as(admin)
    url = f"/api/v1/projects/{s.pid}/annotations/bulk"
    bad = api.post(url, json={"image_ids": [*s.image_ids, 999999], "rejected": True})
    assert bad.status_code == 422
    assert "999999" in bad.json()["detail"]
    wrong = api.post(url, json={"image_ids": s.image_ids, "category_id": other.categories["wine"]})
    assert wrong.status_code == 422
    ok = api.post(url, json={"image_ids": s.image_ids, "category_id": s.categories["wine"]})
    assert ok.status_code == 201
    assert ok.json()["created"] == 3
    assert next_image(api, s.pid) is None


def test_overlap_second_label_and_disagreement(
    api_as: ClientFor, admin: User, manager: User, make_user: UserFactory
) -> None:
    s = arrange(api_as(admin), images=2)
    boss = api_as(admin)
    assert (
        boss.patch(f"/api/v1/projects/{s.pid}", json={"overlap_percent": 100}).json()[
            "overlap_percent"
        ]
        == 100
    )
    a, b = make_user(), make_user()
    for u in (a, b):
        join(boss, s.pid, u.username)
    join(boss, s.pid, manager.username, "manager")
    wine, beer = s.categories["wine"], s.categories["beer"]
    first, second = s.image_ids
    assert next_image(api_as(a), s.pid) == first
    label(api_as(a), first, wine)
    assert next_image(api_as(a), s.pid) == second  # never the same labeler twice
    label(api_as(a), second, wine)
    assert next_image(api_as(a), s.pid) is None
    assert next_image(api_as(b), s.pid) == first
    label(api_as(b), first, wine)  # agrees
    assert next_image(api_as(b), s.pid) == second
    label(api_as(b), second, beer)  # disagrees
    assert next_image(api_as(b), s.pid) is None
    assert next_image(api_as(manager), s.pid, mode="disagreements") == second
    resolved = label(api_as(manager), second, beer)
    assert resolved["source"] == "review"
    assert next_image(api_as(manager), s.pid, mode="disagreements") is None


def test_counters(api_as: ClientFor, admin: User, labeler: User) -> None:
    s = arrange(api_as(admin), images=2)
    join(api_as(admin), s.pid, labeler.username)
    label(api_as(labeler), s.image_ids[0], s.categories["wine"])
    label(api_as(labeler), s.image_ids[1], s.categories["beer"])
    users = api_as(labeler).get(f"/api/v1/projects/{s.pid}/counters").json()["users"]
    assert users == [
        {
            "user_id": labeler.id,
            "username": labeler.username,
            "today": 2,
            "week": 2,
            "per_hour": 2.0,
        }
    ]
