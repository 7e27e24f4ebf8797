"""queue/next and leases: who gets which image, and when it returns to the pool."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.auth.models import User
from app.db import utcnow
from app.labeling.models import Lease
from tests.conftest import ClientFor, UserFactory
from tests.labeling.helpers import arrange, join, label, next_image


def test_next_serves_in_order_and_leases(api_as: ClientFor, admin: User, labeler: User) -> None:
    s = arrange(api_as(admin), images=3)
    join(api_as(admin), s.pid, labeler.username)
    api = api_as(labeler)
    resp = api.get(f"/api/v1/projects/{s.pid}/queue/next")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["image_id"] == s.image_ids[0]
    assert body["file_url"] == f"/api/v1/images/{s.image_ids[0]}/file"
    assert body["thumbnail_url"].endswith("/thumbnail")
    assert body["display_url"].endswith("/display")
    assert body["suggestion"] is None
    assert body["mode"] == "label"
    assert body["strategy"] == "active"
    assert body["remaining"] == 3
    assert body["width"] > 0
    assert body["filename"] == "img0.jpg"
    assert body["lease_expires_at"]
    # Asking again without excluding it re-serves the caller's own lease.
    assert next_image(api, s.pid) == s.image_ids[0]
    assert next_image(api, s.pid, exclude=str(s.image_ids[0])) == s.image_ids[1]
    held = ",".join(map(str, s.image_ids))
    assert next_image(api, s.pid, exclude=held) is None


def test_two_users_never_share_a_leased_image(
    api_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    s = arrange(api_as(admin), images=2)
    a, b, c = make_user(), make_user(), make_user()
    for u in (a, b, c):
        join(api_as(admin), s.pid, u.username)
    first, second = next_image(api_as(a), s.pid), next_image(api_as(b), s.pid)
    assert {first, second} == set(s.image_ids)
    assert next_image(api_as(c), s.pid) is None
    # Labeling releases the lease; the image is labeled, so it is not served again.
    assert first is not None
    label(api_as(a), first, s.categories["wine"])
    assert next_image(api_as(c), s.pid) is None
    # Releasing gives it back.
    resp = api_as(b).post(f"/api/v1/projects/{s.pid}/queue/release", json={"image_ids": [second]})
    assert resp.status_code == 204
    assert next_image(api_as(c), s.pid) == second


def test_an_expired_lease_returns_the_image(
    api_as: ClientFor, admin: User, make_user: UserFactory, db: Session
) -> None:
    s = arrange(api_as(admin), images=1)
    a, b = make_user(), make_user()
    for u in (a, b):
        join(api_as(admin), s.pid, u.username)
    assert next_image(api_as(a), s.pid) == s.image_ids[0]
    assert next_image(api_as(b), s.pid) is None
    db.execute(update(Lease).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    assert next_image(api_as(b), s.pid) == s.image_ids[0]
    assert next_image(api_as(a), s.pid) is None


def test_lease_seconds_setting(settings, make_user: UserFactory) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.conftest import PASSWORD

    short = create_app(settings.model_copy(update={"lease_seconds": 7}))
    try:
        with short.state.sessionmaker() as session:
            from app.auth.models import Role
            from app.auth.service import create_user

            create_user(session, "boss", PASSWORD, Role.admin)
            session.commit()
        api = TestClient(short)
        token = api.post("/api/v1/auth/token", data={"username": "boss", "password": PASSWORD})
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        s = arrange(api, images=1)
        before = utcnow()
        resp = api.get(f"/api/v1/projects/{s.pid}/queue/next")
        from datetime import datetime

        expires = datetime.fromisoformat(resp.json()["lease_expires_at"])
        assert timedelta(seconds=6) < expires - before < timedelta(seconds=9)
    finally:
        short.state.engine.dispose()


def test_strategies_and_modes(api_as: ClientFor, admin: User, labeler: User) -> None:
    s = arrange(api_as(admin), images=4)
    api = api_as(admin)
    assert next_image(api, s.pid, strategy="sequential") == s.image_ids[0]
    assert next_image(api, s.pid, strategy="random", exclude=str(s.image_ids[0])) in s.image_ids[1:]
    label(api, s.image_ids[0], s.categories["wine"])
    label(api, s.image_ids[1], s.categories["beer"])
    resp = api.post(
        f"/api/v1/images/{s.image_ids[2]}/annotations", json={"rejected": True, "reason": "blurry"}
    )
    assert resp.status_code == 201
    assert next_image(api, s.pid, mode="review", category_id=s.categories["beer"]) == s.image_ids[1]
    assert next_image(api, s.pid, mode="rejected") == s.image_ids[2]
    assert next_image(api, s.pid, mode="predicted", category_id=s.categories["beer"]) is None
    # A confirmation from the review queue is a review, and the image leaves that queue.
    confirmed = label(api, s.image_ids[1], s.categories["beer"])
    assert confirmed["source"] == "review"
    assert next_image(api, s.pid, mode="review", category_id=s.categories["beer"]) is None
    join(api_as(admin), s.pid, labeler.username)
    resp = api_as(labeler).get(
        f"/api/v1/projects/{s.pid}/queue/next", params={"mode": "disagreements"}
    )
    assert resp.status_code == 403


def test_queue_bad_input(api_as: ClientFor, admin: User, make_user: UserFactory) -> None:
    s = arrange(api_as(admin), images=1)
    other = arrange(api_as(admin), images=0, name="Other")
    api = api_as(admin)
    url = f"/api/v1/projects/{s.pid}/queue/next"
    assert api.get(url, params={"strategy": "best"}).status_code == 422
    assert api.get(url, params={"mode": "everything"}).status_code == 422
    assert api.get(url, params={"exclude": "1,x"}).status_code == 422
    assert (
        api.get(url, params={"exclude": ",".join(str(i) for i in range(1, 52))}).status_code == 422
    )
    assert (
        api.get(url, params={"mode": "review", "category_id": other.categories["wine"]}).status_code
        == 404
    )
    outsider = make_user()
    assert api_as(outsider).get(url).status_code == 404
    assert api.get("/api/v1/projects/999999/queue/next").status_code == 404
    assert api.patch(f"/api/v1/projects/{s.pid}", json={"archived": True}).status_code == 200
    assert api.get(url).status_code == 409
