"""Errors read like sentences, never like stack traces; docs and assets stay local."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.auth.models import User
from app.paths import STATIC_DIR
from tests.conftest import ClientFor
from tests.support.env import require


def test_unknown_api_path_is_a_json_404(api_as: ClientFor, admin: User) -> None:
    resp = api_as(admin).get("/api/v1/nothing-here")
    assert resp.status_code == 404
    assert resp.json() == {"detail": "There is nothing at this address."}


def test_unknown_page_is_an_html_404(browser_as: ClientFor, admin: User) -> None:
    resp = browser_as(admin).get("/no/such/page")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("text/html")
    assert "Not found" in resp.text
    # The navigation stays, so the user is never stranded on an error page.
    assert 'aria-label="Main"' in resp.text
    assert "Log out" in resp.text


def test_unexpected_errors_hide_the_stack_trace(
    app: FastAPI, browser_as: ClientFor, admin: User
) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    app.router.add_api_route("/api/v1/boom", boom)
    app.router.add_api_route("/boom", boom)
    client = TestClient(app, raise_server_exceptions=False)
    api = client.get("/api/v1/boom")
    assert api.status_code == 500
    assert api.json()["detail"].startswith("Something went wrong on our side")
    page = client.get("/boom")
    assert page.status_code == 500
    for body in (api.text, page.text):
        assert "Traceback" not in body
        assert "secret internals" not in body


def test_validation_errors_are_one_readable_string(api_as: ClientFor, admin: User) -> None:
    resp = api_as(admin).post("/api/v1/projects", json={"name": "x" * 101})
    assert resp.status_code == 422
    assert resp.json()["detail"] == "name: String should have at most 100 characters"


def test_oversized_json_body_is_refused_before_parsing(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    blob = '{"name": "' + "x" * (2 * 1024 * 1024) + '"}'
    resp = api.post("/api/v1/projects", content=blob, headers={"content-type": "application/json"})
    assert resp.status_code == 413
    assert api.get("/api/v1/projects").json() == []


def test_security_headers(client: TestClient) -> None:
    resp = client.get("/login")
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-frame-options"] == "DENY"


def test_docs_need_a_login_and_load_swagger_from_our_own_static(
    client: TestClient, browser_as: ClientFor, api_as: ClientFor, admin: User
) -> None:
    assert client.get("/docs").status_code == 303
    assert client.get("/api/v1/openapi.json").status_code == 401
    html = browser_as(admin).get("/docs").text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    schema = api_as(admin).get("/api/v1/openapi.json").json()
    assert "/api/v1/projects" in schema["paths"]
    assert "/api/v1/auth/token" in schema["paths"]


def test_front_end_libraries_are_installed_and_served(client: TestClient) -> None:
    vendor = Path(STATIC_DIR) / "vendor"
    require(
        (vendor / "htmx.min.js").exists(),
        "static/vendor is missing: run `make static/vendor/.installed` (make run/test do it)",
    )
    for asset in ("htmx.min.js", "swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css"):
        resp = client.get(f"/static/vendor/{asset}")
        assert resp.status_code == 200, asset
        assert len(resp.content) > 10_000, asset
    assert client.get("/static/css/curator.css").status_code == 200
