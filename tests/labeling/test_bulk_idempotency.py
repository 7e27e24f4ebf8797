"""The bulk route honours Idempotency-Key like the single one: a retry stores nothing new
and gets the same annotations back; the key with another body is refused."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.labeling import decisions
from app.labeling.models import Annotation
from app.labeling.schemas import Decision
from app.projects.models import Project
from tests.conftest import ClientFor
from tests.labeling.helpers import arrange, label


def rows(api_as: ClientFor, admin: User, image_ids: list[int]) -> int:
    api = api_as(admin)
    return sum(len(api.get(f"/api/v1/images/{i}/annotations").json()) for i in image_ids)


def test_a_retried_bulk_request_is_stored_once(api_as: ClientFor, admin: User) -> None:
    s = arrange(api_as(admin), images=3)
    api = api_as(admin)
    url = f"/api/v1/projects/{s.pid}/annotations/bulk"
    body = {"image_ids": s.image_ids, "category_id": s.categories["wine"]}
    first = api.post(url, json=body, headers={"Idempotency-Key": "grid-1"})
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    # The same request again, its ids in another order: the same answer, nothing new.
    again = api.post(
        url, json={**body, "image_ids": s.image_ids[::-1]}, headers={"Idempotency-Key": "grid-1"}
    )
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert rows(api_as, admin, s.image_ids) == 3
    # Without a key, each request is a new decision.
    assert api.post(url, json=body).status_code == 201
    assert rows(api_as, admin, s.image_ids) == 6


def test_the_key_with_another_body_is_refused(api_as: ClientFor, admin: User) -> None:
    s = arrange(api_as(admin), images=3)
    api = api_as(admin)
    url = f"/api/v1/projects/{s.pid}/annotations/bulk"
    key = {"Idempotency-Key": "grid-2"}
    ids = s.image_ids[:2]
    assert api.post(url, json={"image_ids": ids, "rejected": True}, headers=key).is_success
    for other in (
        {"image_ids": ids, "category_id": s.categories["wine"]},  # another decision
        {"image_ids": s.image_ids, "rejected": True},  # other images
        {"image_ids": ids, "rejected": True, "reason": "blurry"},  # another reason
    ):
        resp = api.post(url, json=other, headers=key)
        assert resp.status_code == 409, resp.text
        assert "different bulk request" in resp.json()["detail"]
    assert rows(api_as, admin, s.image_ids) == 2
    listed = api.get(f"/api/v1/projects/{s.pid}/images", params={"status": "unlabeled"}).json()
    assert [i["id"] for i in listed["items"]] == [s.image_ids[2]]


def test_a_key_names_one_request_across_both_routes(api_as: ClientFor, admin: User) -> None:
    s = arrange(api_as(admin), images=2)
    api = api_as(admin)
    wine = s.categories["wine"]
    label(api, s.image_ids[0], wine, key="shared")
    bulk_url = f"/api/v1/projects/{s.pid}/annotations/bulk"
    resp = api.post(
        bulk_url,
        json={"image_ids": [s.image_ids[1]], "category_id": wine},
        headers={"Idempotency-Key": "shared"},
    )
    assert resp.status_code == 409
    assert "single annotation" in resp.json()["detail"]
    resp = api.post(
        bulk_url,
        json={"image_ids": [s.image_ids[1]], "category_id": wine},
        headers={"Idempotency-Key": "batch"},
    )
    assert resp.status_code == 201
    single = api.post(
        f"/api/v1/images/{s.image_ids[0]}/annotations",
        json={"category_id": wine},
        headers={"Idempotency-Key": "batch"},
    )
    assert single.status_code == 409
    assert "bulk request" in single.json()["detail"]
    assert rows(api_as, admin, s.image_ids) == 2


def test_two_concurrent_retries_store_one_set(
    api_as: ClientFor, admin: User, fresh_sessionmaker: Callable[[], Session]
) -> None:
    """The second retry arrives while the first is still uncommitted: it waits for the
    database to decide between them on the key, then answers with the first's rows."""
    s = arrange(api_as(admin), images=3)
    decision = Decision(category_id=s.categories["beer"])
    first_session, second_session = fresh_sessionmaker(), fresh_sessionmaker()
    replayed: list[decisions.Recorded] = []

    def retry() -> None:
        user = second_session.get_one(User, admin.id)
        project = second_session.get_one(Project, s.pid)
        replayed.append(decisions.bulk(second_session, user, project, s.image_ids, decision, "k"))
        second_session.commit()

    try:
        user = first_session.get_one(User, admin.id)
        project = first_session.get_one(Project, s.pid)
        made = decisions.bulk(first_session, user, project, s.image_ids, decision, "k")
        assert made.created
        thread = threading.Thread(target=retry)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # held up by the first request's uncommitted key
        first_session.commit()
        thread.join(30)
        assert not thread.is_alive()
        assert len(replayed) == 1
        assert not replayed[0].created
        assert [a.id for a in replayed[0].annotations] == [a.id for a in made.annotations]
        with fresh_sessionmaker() as check:
            count = check.scalar(select(func.count()).where(Annotation.image_id.in_(s.image_ids)))
        assert count == 3
    finally:
        first_session.close()
        second_session.close()
