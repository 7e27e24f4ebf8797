"""Login, logout and the admin users page, as a browser without JavaScript uses them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.config import Settings
from app.main import create_app
from tests.conftest import PASSWORD, ClientFor, csrf_from


def login(client: TestClient, username: str, password: str, next_: str = "") -> object:
    token = csrf_from(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next_},
    )


def test_login_goes_to_projects_and_logout_ends_the_session(
    client: TestClient, labeler: User
) -> None:
    resp = login(client, "lena", PASSWORD)
    assert resp.status_code == 303  # type: ignore[attr-defined]
    assert resp.headers["location"] == "/projects"  # type: ignore[attr-defined]
    assert client.get("/projects").status_code == 200
    token = csrf_from(client, "/projects")
    out = client.post("/logout", data={"csrf_token": token})
    assert out.headers["location"] == "/login"
    assert client.get("/projects").status_code == 303


def test_the_session_cookie_is_signed_and_http_only(client: TestClient, labeler: User) -> None:
    resp = login(client, "lena", PASSWORD)
    set_cookie = resp.headers["set-cookie"].lower()  # type: ignore[attr-defined]
    assert "httponly" in set_cookie
    assert "samesite=lax" in set_cookie
    cookie = next(c for c in client.cookies.jar if c.name == "curator_session")
    # A tampered cookie is just an anonymous visitor.
    tampered = cookie.value[:-4] + ("AAAA" if not cookie.value.endswith("AAAA") else "BBBB")
    client.cookies.clear()
    client.cookies.set("curator_session", cookie.value)
    assert client.get("/projects").status_code == 200
    client.cookies.clear()
    client.cookies.set("curator_session", tampered)
    assert client.get("/projects").status_code == 303


def test_wrong_password_shows_one_message_and_keeps_the_username(
    client: TestClient, labeler: User
) -> None:
    for name in ("lena", "ghost"):
        resp = login(client, name, "bad-password")
        assert resp.status_code == 401  # type: ignore[attr-defined]
        assert "Incorrect username or password." in resp.text  # type: ignore[attr-defined]
        assert f'value="{name}"' in resp.text  # type: ignore[attr-defined]


@pytest.mark.parametrize(("first_delay", "said"), [(60, "{} seconds"), (600, "10 minutes")])
def test_login_page_says_how_long_to_wait_after_repeated_failures(
    settings: Settings, labeler: User, first_delay: int, said: str
) -> None:
    # A first delay long enough that "at once" is within it on the slowest machine.
    app = create_app(settings.model_copy(update={"login_first_delay": first_delay}))
    with TestClient(app, follow_redirects=False) as client:
        for _ in range(3):
            assert login(client, "lena", "bad-password").status_code == 401  # type: ignore[attr-defined]
        resp = login(client, "lena", PASSWORD)
        assert resp.status_code == 429  # type: ignore[attr-defined]
        wait = int(resp.headers["retry-after"])  # type: ignore[attr-defined]
        assert first_delay - 5 < wait <= first_delay
        message = f"Too many failed logins. Wait {said.format(wait)} before trying again."
        assert message in resp.text  # type: ignore[attr-defined]
        assert 'role="alert"' in resp.text  # type: ignore[attr-defined]
        assert 'value="lena"' in resp.text  # type: ignore[attr-defined]
        assert client.get("/projects").status_code == 303
    app.state.engine.dispose()


@pytest.mark.parametrize(
    ("next_", "expected"),
    [
        ("/projects/3", "/projects/3"),
        ("//evil.example/x", "/projects"),
        ("https://evil.example/", "/projects"),
        ("/\\evil.example", "/projects"),
        ("javascript:alert(1)", "/projects"),
        ("", "/projects"),
    ],
)
def test_next_only_redirects_within_the_site(
    client: TestClient, labeler: User, next_: str, expected: str
) -> None:
    resp = login(client, "lena", PASSWORD, next_)
    assert resp.headers["location"] == expected  # type: ignore[attr-defined]


def test_pages_redirect_anonymous_visitors_to_login_with_next(client: TestClient) -> None:
    resp = client.get("/projects/7?tab=members")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login?next=%2Fprojects%2F7%3Ftab%3Dmembers"


def test_login_without_csrf_token_is_refused(client: TestClient, labeler: User) -> None:
    client.get("/login")
    resp = client.post("/login", data={"username": "lena", "password": PASSWORD})
    assert resp.status_code == 403
    assert "expired" in resp.text
    assert client.get("/projects").status_code == 303


def test_admin_page_creates_deactivates_and_resets(
    browser_as: ClientFor, admin: User, db: Session
) -> None:
    page = browser_as(admin)
    token = csrf_from(page, "/admin/users")
    resp = page.post(
        "/admin/users",
        data={
            "username": "newbie",
            "password": "first-password",
            "role": "labeler",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 303
    listing = page.get("/admin/users").text
    assert "Created labeler newbie." in listing
    assert "newbie" in listing
    # You cannot deactivate yourself, so the page does not offer it.
    assert "Deactivate root" not in listing
    assert "Deactivate newbie" in listing
    newbie = db.scalar(select(User).where(User.username == "newbie"))
    assert newbie is not None
    for action, extra in [("password", {"password": "second-password"}), ("deactivate", {})]:
        resp = page.post(
            f"/admin/users/{newbie.id}", data={"action": action, "csrf_token": token, **extra}
        )
        assert resp.status_code == 303
    db.expire_all()
    refreshed = db.get(User, newbie.id)
    assert refreshed is not None
    assert refreshed.is_active is False


def test_admin_page_shows_errors_and_changes_nothing(
    browser_as: ClientFor, admin: User, db: Session
) -> None:
    page = browser_as(admin)
    token = csrf_from(page, "/admin/users")
    dup = page.post(
        "/admin/users", data={"username": "root", "password": "whatever1", "csrf_token": token}
    )
    assert dup.status_code == 409
    assert "already exists" in dup.text
    short = page.post(
        "/admin/users", data={"username": "ok", "password": "short", "csrf_token": token}
    )
    assert short.status_code == 400
    assert "Password" in short.text
    bad = page.post(f"/admin/users/{admin.id}", data={"action": "explode", "csrf_token": token})
    assert bad.status_code == 400
    assert db.scalars(select(User.username)).all() == ["root"]


def test_labelers_and_managers_cannot_open_the_admin_page(
    browser_as: ClientFor, labeler: User, manager: User
) -> None:
    for user in (labeler, manager):
        page = browser_as(user)
        resp = page.get("/admin/users")
        assert resp.status_code == 403
        assert "needs the role admin" in resp.text
        token = csrf_from(page, "/projects")
        post = page.post(
            "/admin/users",
            data={
                "username": "sneaky",
                "password": "long-enough",
                "role": "admin",
                "csrf_token": token,
            },
        )
        assert post.status_code == 403


def test_session_dies_when_the_password_is_reset(
    browser_as: ClientFor, api_as: ClientFor, admin: User, make_user: object
) -> None:
    victim = make_user(Role.labeler, "vic")  # type: ignore[operator]
    page = browser_as(victim)
    assert page.get("/projects").status_code == 200
    api_as(admin).patch(f"/api/v1/users/{victim.id}", json={"password": "another-one"})
    assert page.get("/projects").status_code == 303
