"""queue/next and POST annotations look the bearer token up in their first query
(app.labeling.caller); their answers stay those of every other route: 401 for a bad
token first, 404 for a project or image the caller may not see, the same messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.auth.models import ApiToken, Role, User
from app.db import utcnow
from tests.conftest import ClientFor, UserFactory
from tests.labeling.helpers import arrange, join, label, next_image

INVALID = "Invalid or expired token. Get a new one from /api/v1/auth/token."


def _hot_calls(api: TestClient, pid: int | str, image_id: int | str, cid: int) -> list[object]:
    nxt = api.get(f"/api/v1/projects/{pid}/queue/next")
    post = api.post(f"/api/v1/images/{image_id}/annotations", json={"category_id": cid})
    return [nxt.status_code, nxt.json(), post.status_code, post.json()]


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-token", "Bearer ", "Basic abc", "Bearer " + "x" * 500, "bearer  nope  "],
)
def test_a_bad_token_is_401_before_anything_else(
    client: TestClient, api_as: ClientFor, admin: User, header: str
) -> None:
    s = arrange(api_as(admin), images=1)
    client.headers["Authorization"] = header
    got = _hot_calls(client, s.pid, s.image_ids[0], s.categories["wine"])
    assert got == [401, {"detail": INVALID}, 401, {"detail": INVALID}]
    # ... even with ids that would fail validation, as on every other route.
    assert _hot_calls(client, "abc", "0", 1)[0::2] == [401, 401]


def test_expired_token_and_deactivated_user_are_refused(
    api_as: ClientFor, admin: User, labeler: User, db: Session
) -> None:
    s = arrange(api_as(admin), images=2)
    join(api_as(admin), s.pid, labeler.username)
    api = api_as(labeler)
    assert next_image(api, s.pid) == s.image_ids[0]
    db.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    assert _hot_calls(api, s.pid, s.image_ids[0], s.categories["wine"])[0::2] == [401, 401]

    fresh = api_as(labeler)  # a new token, then the account is switched off
    db.execute(update(User).where(User.id == labeler.id).values(is_active=False))
    db.commit()
    assert _hot_calls(fresh, s.pid, s.image_ids[0], s.categories["wine"])[0::2] == [401, 401]


def test_outsiders_get_the_same_404_as_for_nothing_at_all(
    api_as: ClientFor, admin: User, labeler: User, manager: User
) -> None:
    s = arrange(api_as(admin), images=1)
    outsider = api_as(labeler)
    cid = s.categories["wine"]
    hidden = _hot_calls(outsider, s.pid, s.image_ids[0], cid)
    missing = _hot_calls(outsider, 999_999, 999_999, cid)
    assert hidden[0::2] == missing[0::2] == [404, 404]
    assert hidden[1] == {"detail": f"No project with id {s.pid}."}
    assert hidden[3] == {"detail": f"No image with id {s.image_ids[0]}."}
    assert missing[1] == {"detail": "No project with id 999999."}
    # A member labels; an admin who is no member sees every project.
    join(api_as(admin), s.pid, manager.username, "manager")
    member = api_as(manager)
    assert next_image(member, s.pid) == s.image_ids[0]
    assert label(member, s.image_ids[0], cid)["username"] == manager.username


def test_an_admin_who_is_no_member_labels(
    api_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    s = arrange(api_as(admin), images=1)
    other = make_user(Role.admin, "second-admin")
    api = api_as(other)
    assert next_image(api, s.pid) == s.image_ids[0]
    assert label(api, s.image_ids[0], s.categories["beer"])["user_id"] == other.id
