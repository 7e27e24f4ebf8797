"""Bearer tokens: the OAuth2 password flow, its failures and its throttling."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import ApiToken, Role, User
from tests.conftest import PASSWORD, ClientFor, UserFactory


def token(client: TestClient, username: str, password: str) -> tuple[int, dict[str, object]]:
    resp = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    return resp.status_code, resp.json()


def test_token_grants_access_as_that_user(client: TestClient, labeler: User) -> None:
    status, body = token(client, labeler.username, PASSWORD)
    assert status == 200
    assert body["token_type"] == "bearer"
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == "lena"
    assert me.json()["role"] == "labeler"


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient, labeler: User) -> None:
    wrong = client.post("/api/v1/auth/token", data={"username": "lena", "password": "nope-nope"})
    unknown = client.post("/api/v1/auth/token", data={"username": "ghost", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "Incorrect username or password."}
    assert wrong.headers["www-authenticate"] == "Bearer"


def test_failures_for_one_name_do_not_hold_up_other_names(
    client: TestClient, labeler: User, make_user: UserFactory
) -> None:
    """Delays are per name and address (tests/auth/test_throttle.py has the timings)."""
    make_user(Role.labeler, "other")
    for _ in range(4):
        assert token(client, "ghost", "wrong-password")[0] in (401, 429)
    assert token(client, "other", PASSWORD)[0] == 200
    assert token(client, "lena", PASSWORD)[0] == 200


def test_success_clears_earlier_failures(client: TestClient, labeler: User) -> None:
    for _ in range(2):
        assert token(client, "lena", "wrong-password")[0] == 401
    assert token(client, "lena", PASSWORD)[0] == 200
    # Had the first two still counted, the fourth failure in a row would be held up.
    for _ in range(2):
        assert token(client, "lena", "wrong-password")[0] == 401
    assert token(client, "lena", PASSWORD)[0] == 200


def test_deactivated_user_gets_no_token_and_loses_existing_ones(
    api_as: ClientFor, client: TestClient, db: Session, admin: User, labeler: User
) -> None:
    lena = api_as(labeler)
    assert lena.get("/api/v1/users/me").status_code == 200
    resp = api_as(admin).patch(f"/api/v1/users/{labeler.id}", json={"is_active": False})
    assert resp.status_code == 200
    assert lena.get("/api/v1/users/me").status_code == 401
    assert token(client, "lena", PASSWORD)[0] == 401


def test_password_reset_revokes_tokens(api_as: ClientFor, admin: User, labeler: User) -> None:
    lena = api_as(labeler)
    resp = api_as(admin).patch(f"/api/v1/users/{labeler.id}", json={"password": "a brand new one"})
    assert resp.status_code == 200
    assert lena.get("/api/v1/users/me").status_code == 401
    fresh = TestClient(lena.app)
    ok = fresh.post("/api/v1/auth/token", data={"username": "lena", "password": "a brand new one"})
    assert ok.status_code == 200


def test_only_the_hash_of_a_token_is_stored(client: TestClient, db: Session, labeler: User) -> None:
    _, body = token(client, "lena", PASSWORD)
    stored = db.scalars(select(ApiToken.token_hash)).all()
    assert body["access_token"] not in stored
    assert len(stored) == 1


def test_malformed_and_hostile_authorization_headers(client: TestClient, labeler: User) -> None:
    for header in [
        "Bearer",
        "Bearer ",
        "Basic bGVuYTpwdw==",
        "Bearer " + "A" * 5000,
        "Bearer ' OR 1=1 --",
        "bearer\tnothing",
    ]:
        resp = client.get("/api/v1/users/me", headers={"Authorization": header})
        assert resp.status_code == 401, header
        assert isinstance(resp.json()["detail"], str)


def test_token_form_rejects_missing_and_oversized_fields(client: TestClient) -> None:
    assert client.post("/api/v1/auth/token", data={"username": "x"}).status_code == 422
    huge = client.post("/api/v1/auth/token", data={"username": "x" * 300, "password": "y"})
    assert huge.status_code == 422
    body = client.post(
        "/api/v1/auth/token", data={"username": "x", "password": "y" * (2 * 1024 * 1024)}
    )
    assert body.status_code == 413
