"""Walk every route: anonymous callers and missing CSRF tokens are refused.

Who may call what, route by route and caller by caller, is the role matrix's job
(tests/web/test_role_matrix.py, with its table in tests/web/role_table.py).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.auth.models import User
from tests.conftest import ClientFor, csrf_from
from tests.support.routes import UNSAFE, all_routes, fill
from tests.web.role_table import TABLE

PUBLIC = {route for route, row in TABLE.items() if row.level == "public"}


def test_the_walk_sees_the_whole_app(app: FastAPI) -> None:
    routes = all_routes(app)
    assert len(routes) >= 25
    assert ("GET", "/docs") in routes
    assert ("POST", "/api/v1/projects") in routes
    # Growing this set is a decision about who may call a route without logging in.
    known = {
        ("GET", "/api/v1/health"),
        ("POST", "/api/v1/auth/token"),
        ("GET", "/login"),
        ("POST", "/login"),
    }
    assert known == PUBLIC


def test_every_route_but_health_token_and_login_refuses_anonymous_callers(app: FastAPI) -> None:
    checked = 0
    for method, path in all_routes(app):
        if (method, path) in PUBLIC:
            continue
        client = TestClient(app, follow_redirects=False)
        token = csrf_from(client)  # a valid CSRF token, so only the missing login is tested
        url = fill(path)
        if path.startswith("/api/"):
            resp = client.request(method, url, json={})
            assert resp.status_code == 401, (method, path, resp.text)
            assert isinstance(resp.json()["detail"], str)
        else:
            data = {"csrf_token": token} if method in UNSAFE else None
            resp = client.request(method, url, data=data)
            assert resp.status_code == 303, (method, path, resp.status_code)
            assert resp.headers["location"].startswith("/login"), (method, path)
        checked += 1
    assert checked >= 20


def test_public_routes_answer_anonymous_callers(client: TestClient) -> None:
    health = client.get("/api/v1/health")  # its contents: tests/web/test_health.py
    assert (health.status_code, health.json()["broker"]) == (200, "ok")
    assert client.get("/login").status_code == 200


def test_every_page_form_needs_the_csrf_token(
    app: FastAPI, browser_as: ClientFor, admin: User
) -> None:
    page = browser_as(admin)
    for method, path in all_routes(app):
        if method not in UNSAFE or path.startswith("/api/"):
            continue
        for data in ({}, {"csrf_token": "forged"}):
            resp = page.request(method, fill(path, admin.id), data=data)
            assert resp.status_code == 403, (method, path, data)
    assert page.get("/projects").status_code == 200  # still logged in: nothing happened


def test_cookie_authenticated_api_calls_need_the_csrf_header(
    browser_as: ClientFor, admin: User
) -> None:
    page = browser_as(admin)
    assert page.get("/api/v1/projects").status_code == 200
    assert page.post("/api/v1/projects", json={"name": "X"}).status_code == 403
    token = csrf_from(page, "/projects")
    ok = page.post("/api/v1/projects", json={"name": "X"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201
