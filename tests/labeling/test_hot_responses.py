"""The hot routes write their JSON themselves (app.labeling.api._json): what a client
reads must be what ``response_model`` promised, replays included."""

from __future__ import annotations

from app.auth.models import User
from tests.conftest import ClientFor
from tests.labeling.helpers import arrange, join


def test_a_replayed_label_says_so_and_returns_the_first(
    api_as: ClientFor, admin: User, labeler: User
) -> None:
    s = arrange(api_as(admin), images=2)
    join(api_as(admin), s.pid, labeler.username)
    api = api_as(labeler)
    url = f"/api/v1/images/{s.image_ids[0]}/annotations"
    body = {"category_id": s.categories["wine"]}
    first = api.post(url, json=body, headers={"Idempotency-Key": "press-1"})
    again = api.post(url, json=body, headers={"Idempotency-Key": "press-1"})
    assert first.status_code == again.status_code == 201, again.text
    assert first.headers["content-type"] == "application/json"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    made = first.json()
    assert made["image_id"] == s.image_ids[0]
    assert made["username"] == labeler.username
    assert made["category_id"] == s.categories["wine"]
    assert made["created_at"].endswith(("Z", "+00:00"))
    assert len(api.get(url).json()) == 1


def test_next_answers_every_field_of_its_model(
    api_as: ClientFor, admin: User, labeler: User
) -> None:
    s = arrange(api_as(admin), images=1)
    join(api_as(admin), s.pid, labeler.username)
    resp = api_as(labeler).get(f"/api/v1/projects/{s.pid}/queue/next")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    item = resp.json()
    schema = api_as(admin).get("/api/v1/openapi.json")
    fields = set(schema.json()["components"]["schemas"]["QueueItem"]["properties"])
    assert set(item) == fields
    assert (item["width"], item["height"]) > (0, 0)
    assert item["filename"].endswith(".jpg")
    assert item["remaining"] == 1
