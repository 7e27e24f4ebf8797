"""Every response carries the Content-Security-Policy; signed-in pages are never cached."""

from __future__ import annotations

import re

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.auth.models import User
from tests.conftest import ClientFor
from tests.images.helpers import jpegs, new_project, upload

REQUIRED = {
    "default-src": "'self'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
}


def policy(resp: httpx.Response) -> dict[str, str]:
    header = resp.headers.get("content-security-policy")
    assert header, f"{resp.request.method} {resp.request.url} HTTP {resp.status_code}: no CSP"
    directives = [d.strip().split(None, 1) for d in header.split(";") if d.strip()]
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


def assert_strict(resp: httpx.Response) -> None:
    directives = policy(resp)
    for name, value in REQUIRED.items():
        assert directives.get(name) == value, (name, directives)
    sources = " ".join(directives.values())
    assert "unsafe-inline" not in sources
    assert "unsafe-eval" not in sources
    assert "*" not in sources
    # Script and style fall back to default-src 'self': nothing may widen them.
    assert "script-src" not in directives
    assert "style-src" not in directives


def test_pages_api_files_and_errors_all_carry_the_policy(
    app: FastAPI, client: TestClient, browser_as: ClientFor, api_as: ClientFor, admin: User
) -> None:
    api = api_as(admin)
    pid = new_project(api, "Headers")
    upload(api, pid, jpegs(1))
    image = api.get(f"/api/v1/projects/{pid}/images").json()["items"][0]
    page = browser_as(admin)

    def boom() -> None:
        raise RuntimeError("unexpected")

    app.router.add_api_route("/api/v1/boom", boom)
    app.router.add_api_route("/boom", boom)
    unguarded = TestClient(app, raise_server_exceptions=False, follow_redirects=False)

    responses = {
        "login page": client.get("/login"),
        "signed-in page": page.get(f"/projects/{pid}"),
        "docs page": page.get("/docs"),
        "API JSON": api.get("/api/v1/projects"),
        "OpenAPI schema": api.get("/api/v1/openapi.json"),
        "static file": client.get("/static/css/curator.css"),
        "static script": client.get("/static/js/docs.js"),
        "image file": api.get(image["file_url"]),
        "thumbnail": api.get(image["thumbnail_url"]),
        "page 404": page.get("/no/such/page"),
        "API 404": api.get("/api/v1/no-such-route"),
        "static 404": client.get("/static/nothing.css"),
        "API 401": client.get("/api/v1/projects"),
        "login redirect": client.get(f"/projects/{pid}"),
        "API 422": api.post("/api/v1/projects", json={"name": ""}),
        "API 413": api.post(
            "/api/v1/projects",
            content=b"{" + b" " * (3 * 2**20) + b"}",
            headers={"content-type": "application/json"},
        ),
        "API 500": unguarded.get("/api/v1/boom"),
        "page 500": unguarded.get("/boom"),
        "HEAD 405": client.head("/login"),
    }
    expected = {
        "page 404": 404,
        "API 404": 404,
        "static 404": 404,
        "API 401": 401,
        "login redirect": 303,
        "API 422": 422,
        "API 413": 413,
        "API 500": 500,
        "page 500": 500,
        "HEAD 405": 405,
    }
    for kind, resp in responses.items():
        assert resp.status_code == expected.get(kind, 200), (kind, resp.status_code, resp.text)
        assert_strict(resp)
        assert resp.headers["x-frame-options"] == "DENY", kind
    unguarded.close()


def test_signed_in_pages_are_not_stored_and_files_keep_their_cache_policy(
    client: TestClient, browser_as: ClientFor, api_as: ClientFor, admin: User
) -> None:
    api = api_as(admin)
    pid = new_project(api, "Caching")
    upload(api, pid, jpegs(1))
    image = api.get(f"/api/v1/projects/{pid}/images").json()["items"][0]
    page = browser_as(admin)
    for path in ("/projects", f"/projects/{pid}", f"/projects/{pid}/taxonomy", "/docs"):
        resp = page.get(path)
        assert resp.status_code == 200, path
        assert resp.headers["cache-control"] == "no-store", path
    assert page.get("/no/such/page").headers["cache-control"] == "no-store"
    # An image's bytes never change under its URL: it keeps its own long cache policy.
    assert "immutable" in api.get(image["thumbnail_url"]).headers["cache-control"]
    assert "no-store" not in client.get("/static/css/curator.css").headers.get("cache-control", "")


SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


@pytest.mark.parametrize("path", ["/docs", "/projects", "/login", "/admin/users"])
def test_pages_need_no_inline_script_or_style(
    client: TestClient, browser_as: ClientFor, admin: User, path: str
) -> None:
    html = (client if path == "/login" else browser_as(admin)).get(path).text
    for attributes in SCRIPT.findall(html):
        # A JSON data block is never executed, so the policy has nothing to allow.
        assert "src=" in attributes or 'type="application/json"' in attributes, attributes
    assert "<style" not in html.lower()
    assert " style=" not in html.lower()
    assert not INLINE_HANDLER.search(html)


def test_htmx_is_told_not_to_inject_styles_or_eval(browser_as: ClientFor, admin: User) -> None:
    html = browser_as(admin).get("/projects").text
    match = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", html)
    assert match, "no htmx-config meta tag"
    assert '"includeIndicatorStyles": false' in match.group(1)
    assert '"allowEval": false' in match.group(1)
    assert "/static/css/htmx.css" in html
