"""Login sessions live on the server: logging out, "log out everywhere", a password
change and deactivation end them, even for a copy of the cookie taken earlier."""

from __future__ import annotations

import hashlib
import json
from base64 import b64decode, b64encode
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import LoginSession, Role, User
from app.config import Settings
from app.db import utcnow
from app.main import SESSION_COOKIE
from tests.conftest import ClientFor, UserFactory, csrf_from


def cookie_of(client: TestClient) -> str:
    value = client.cookies.get(SESSION_COOKIE)
    assert value
    return value


def browser_with(app: FastAPI, cookie: str) -> TestClient:
    """Another browser that holds a copy of a session cookie."""
    thief = TestClient(app, follow_redirects=False)
    thief.cookies.set(SESSION_COOKIE, cookie)
    return thief


def logged_in(client: TestClient) -> bool:
    page = client.get("/projects")
    if page.status_code == 303:
        assert page.headers["location"].startswith("/login")
        return False
    assert page.status_code == 200, page.text
    return True


def sessions_of(db: Session, user: User) -> int:
    db.expire_all()
    query = select(func.count()).select_from(LoginSession).where(LoginSession.user_id == user.id)
    return db.scalar(query) or 0


def signed(settings: Settings, content: dict[str, object]) -> str:
    """A cookie as the server would sign it, with whatever content a forger likes."""
    data = b64encode(json.dumps(content).encode())
    return TimestampSigner(settings.resolved_secret_key()).sign(data).decode()


def test_a_cookie_copied_before_logout_is_refused_after_it(
    app: FastAPI, browser_as: ClientFor, labeler: User
) -> None:
    page = browser_as(labeler)
    copy = browser_with(app, cookie_of(page))
    assert logged_in(copy)
    assert copy.get("/api/v1/users/me").json()["username"] == "lena"

    out = page.post("/logout", data={"csrf_token": csrf_from(page, "/projects")})
    assert out.status_code == 303
    assert out.headers["location"] == "/login"

    assert not logged_in(copy)
    assert copy.get("/api/v1/users/me").status_code == 401
    assert not logged_in(page)


def test_the_cookie_holds_a_random_id_and_the_database_only_its_hash(
    browser_as: ClientFor, labeler: User, db: Session
) -> None:
    page = browser_as(labeler)
    content = json.loads(b64decode(cookie_of(page).split(".")[0]))
    assert set(content) == {"sid", "csrf"}
    assert len(content["sid"]) >= 43  # 32 random bytes
    row = db.scalars(select(LoginSession)).one()
    assert row.session_hash == hashlib.sha256(content["sid"].encode()).hexdigest()
    assert content["sid"] not in row.session_hash
    assert row.user_id == labeler.id
    assert row.user_agent == "testclient"
    # Two logins are two sessions: logging one out leaves the other.
    other = browser_as(labeler)
    assert sessions_of(db, labeler) == 2
    other.post("/logout", data={"csrf_token": csrf_from(other, "/projects")})
    assert sessions_of(db, labeler) == 1
    assert logged_in(page)


def test_log_out_everywhere_ends_every_session_and_token_of_that_user_only(
    app: FastAPI,
    browser_as: ClientFor,
    api_as: ClientFor,
    labeler: User,
    manager: User,
    db: Session,
) -> None:
    here, laptop, script = browser_as(labeler), browser_as(labeler), api_as(labeler)
    copy = browser_with(app, cookie_of(here))
    mona_page, mona_script = browser_as(manager), api_as(manager)

    menu = here.get("/projects").text
    assert 'action="/logout/everywhere"' in menu
    assert "Log out everywhere" in menu

    resp = here.post("/logout/everywhere", data={"csrf_token": csrf_from(here, "/projects")})
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login"
    assert "logged out everywhere" in here.get("/login").text

    for browser in (here, laptop, copy):
        assert not logged_in(browser)
    assert script.get("/api/v1/users/me").status_code == 401
    assert sessions_of(db, labeler) == 0
    # Another user's sessions and tokens are untouched.
    assert logged_in(mona_page)
    assert mona_script.get("/api/v1/users/me").json()["username"] == "mona"
    # And lena can log in again.
    assert logged_in(browser_as(labeler))


def test_log_out_everywhere_needs_the_pages_csrf_token_and_a_login(
    app: FastAPI, browser_as: ClientFor, api_as: ClientFor, labeler: User, manager: User
) -> None:
    page, script = browser_as(labeler), api_as(labeler)
    monas_token = csrf_from(browser_as(manager), "/projects")
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": monas_token}):
        resp = page.post("/logout/everywhere", data=data)
        assert resp.status_code == 403, data
    # A bearer token is no way in either: the route is for the browser's own session.
    assert script.post("/logout/everywhere").status_code == 403
    anonymous = TestClient(app, follow_redirects=False)
    resp = anonymous.post("/logout/everywhere", data={"csrf_token": csrf_from(anonymous)})
    assert resp.status_code == 303
    assert resp.headers["location"].startswith("/login")
    assert logged_in(page)
    assert script.get("/api/v1/users/me").status_code == 200


@pytest.mark.parametrize("change", [{"password": "a brand new one"}, {"is_active": False}])
def test_a_password_change_or_deactivation_ends_every_session_and_token(
    app: FastAPI,
    browser_as: ClientFor,
    api_as: ClientFor,
    admin: User,
    make_user: UserFactory,
    db: Session,
    change: dict[str, object],
) -> None:
    vic = make_user(Role.labeler, "vic")
    page, laptop, script = browser_as(vic), browser_as(vic), api_as(vic)
    copy = browser_with(app, cookie_of(page))
    root = api_as(admin)
    assert root.patch(f"/api/v1/users/{vic.id}", json=change).status_code == 200
    for browser in (page, laptop, copy):
        assert not logged_in(browser)
    assert script.get("/api/v1/users/me").status_code == 401
    assert sessions_of(db, vic) == 0
    assert root.get("/api/v1/users/me").status_code == 200


def test_an_expired_session_is_refused_and_swept_at_the_next_login(
    browser_as: ClientFor, labeler: User, manager: User, db: Session
) -> None:
    page = browser_as(labeler)
    row = db.scalars(select(LoginSession)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    assert not logged_in(page)
    assert sessions_of(db, labeler) == 1
    browser_as(manager)
    assert sessions_of(db, labeler) == 0


def test_a_session_in_use_moves_its_expiry_forward(
    browser_as: ClientFor, labeler: User, db: Session, settings: Settings
) -> None:
    page = browser_as(labeler)
    row = db.scalars(select(LoginSession)).one()
    long_ago = utcnow() - timedelta(days=3)
    row.last_seen_at = long_ago
    row.expires_at = long_ago + timedelta(seconds=settings.session_max_age)
    db.commit()
    assert logged_in(page)
    db.expire_all()
    row = db.scalars(select(LoginSession)).one()
    assert row.last_seen_at > utcnow() - timedelta(minutes=1)
    assert row.expires_at > utcnow() + timedelta(seconds=settings.session_max_age - 60)


@pytest.mark.parametrize(
    "content",
    [
        {"sid": 1},
        {"sid": ["a"]},
        {"sid": ""},
        {"sid": "A" * 5000},
        {"sid": "' OR 1=1 --"},
        {"sid": "\x00"},
    ],
)
def test_forged_or_malformed_session_ids_are_anonymous(
    app: FastAPI, settings: Settings, labeler: User, content: dict[str, object]
) -> None:
    browser_as_lena = TestClient(app, follow_redirects=False)
    browser_as_lena.cookies.set(SESSION_COOKIE, signed(settings, content))
    assert not logged_in(browser_as_lena)
    assert browser_as_lena.get("/api/v1/users/me").status_code == 401


def test_a_cookie_of_the_old_format_no_longer_logs_in(
    app: FastAPI, settings: Settings, labeler: User
) -> None:
    """Before server-side sessions the cookie named the user and their stamp."""
    old = TestClient(app, follow_redirects=False)
    old.cookies.set(
        SESSION_COOKIE, signed(settings, {"uid": labeler.id, "stamp": labeler.security_stamp})
    )
    assert not logged_in(old)
