"""Admin user management over the API, and the inputs it refuses."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from tests.conftest import ClientFor


def user_count(db: Session) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(User)) or 0


def test_admin_creates_lists_and_updates_users(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    created = api.post(
        "/api/v1/users",
        json={"username": "ann.o-tator@lab", "password": "s3cret-pw", "role": "manager"},
    )
    assert created.status_code == 201
    assert created.json()["role"] == "manager"
    assert "password" not in created.text
    assert "hash" not in created.text
    names = [u["username"] for u in api.get("/api/v1/users").json()]
    assert names == ["ann.o-tator@lab", "root"]
    uid = created.json()["id"]
    resp = api.patch(f"/api/v1/users/{uid}", json={"role": "labeler", "is_active": False})
    assert resp.json()["role"] == "labeler"
    assert resp.json()["is_active"] is False


def test_duplicate_username_is_a_conflict_and_changes_nothing(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    before = user_count(db)
    resp = api_as(admin).post("/api/v1/users", json={"username": "root", "password": "whatever1"})
    assert resp.status_code == 409
    assert resp.json()["detail"] == "A user named 'root' already exists."
    assert user_count(db) == before


@pytest.mark.parametrize(
    "body",
    [
        {"username": "", "password": "long-enough"},
        {"username": "a" * 65, "password": "long-enough"},
        {"username": "has space", "password": "long-enough"},
        {"username": "<script>", "password": "long-enough"},
        {"username": "nul\x00byte", "password": "long-enough"},
        {"username": "../etc", "password": "long-enough"},
        {"username": "okname", "password": "short"},
        {"username": "okname", "password": "x" * 257},
        {"username": "okname", "password": "tab\there-long"},
        {"username": "okname", "password": "long-enough", "role": "superuser"},
        {"username": "okname", "password": "long-enough", "is_admin": True},
        {"username": ["okname"], "password": "long-enough"},
    ],
)
def test_bad_user_input_is_refused_with_a_readable_message(
    api_as: ClientFor, admin: User, db: Session, body: dict[str, object]
) -> None:
    before = user_count(db)
    resp = api_as(admin).post("/api/v1/users", json=body)
    assert resp.status_code == 422
    assert isinstance(resp.json()["detail"], str)
    assert resp.json()["detail"]
    assert user_count(db) == before


def test_non_json_body_is_refused(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    resp = api.post(
        "/api/v1/users", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 422
    assert isinstance(resp.json()["detail"], str)


def test_only_admins_manage_users(api_as: ClientFor, manager: User, labeler: User) -> None:
    for user in (manager, labeler):
        api = api_as(user)
        assert api.get("/api/v1/users").status_code == 403
        resp = api.post("/api/v1/users", json={"username": "x1", "password": "long-enough"})
        assert resp.status_code == 403
        assert "admin" in resp.json()["detail"]
        assert api.patch(f"/api/v1/users/{user.id}", json={"role": "admin"}).status_code == 403


def test_the_last_admin_cannot_be_demoted_or_deactivated(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    api = api_as(admin)
    assert api.patch(f"/api/v1/users/{admin.id}", json={"role": "manager"}).status_code == 409
    second = api.post(
        "/api/v1/users", json={"username": "root2", "password": "long-enough", "role": "admin"}
    ).json()
    # With a second admin, demoting the first is fine; deactivating yourself never is.
    assert api.patch(f"/api/v1/users/{admin.id}", json={"is_active": False}).status_code == 403
    assert api.patch(f"/api/v1/users/{second['id']}", json={"role": "manager"}).status_code == 200


def test_unknown_user_is_404(api_as: ClientFor, admin: User) -> None:
    resp = api_as(admin).patch("/api/v1/users/999999", json={"role": "manager"})
    assert resp.status_code == 404
    assert resp.json() == {"detail": "No user with id 999999."}
