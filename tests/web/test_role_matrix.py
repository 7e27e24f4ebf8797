"""The role matrix: every route of the app, called by six kinds of caller.

The callers: anonymous; an outsider (a labeler in no project); a labeler member; the
project's manager; a global manager who runs another project but is nobody in this one;
an admin. tests/web/role_table.py says what each may do on each route; a route missing
from it fails the first test, so a new route cannot slip in unreviewed.

State-changing routes are called the way a browser or script would: page forms with the
caller's valid CSRF token and a body that would succeed, so that only the caller's
standing can be what refuses them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.config import Settings
from tests.conftest import UserFactory
from tests.support.routes import UNSAFE, all_routes
from tests.web.role_table import LEVELS, TABLE, Row
from tests.web.role_world import IDENTITIES, World, build_world

# The refused callers go first: a route that changes something is then still intact
# (and its rows still there) when the allowed callers try it.
ORDER = ("anonymous", "outsider", "other_manager", "labeler", "manager", "admin")
PROJECT_ROUTE = re.compile(r"^(/api/v1)?/projects/\{project_id\}")


@pytest.fixture
def world(app: FastAPI, db: Session, settings: Settings, make_user: UserFactory) -> Iterator[World]:
    built = build_world(app, db, settings, make_user)
    yield built
    built.close()


def test_every_route_of_the_app_is_in_the_table(app: FastAPI) -> None:
    routes = set(all_routes(app))
    assert len(routes) >= 90
    missing = sorted(routes - set(TABLE))
    assert not missing, f"Add these routes to tests/web/role_table.py: {missing}"
    gone = sorted(set(TABLE) - routes)
    assert not gone, f"No longer routes of the app: {gone}"
    assert set(ORDER) == set(IDENTITIES)
    assert {row.level for row in TABLE.values()} <= set(LEVELS)


def _url(world: World, path: str, ids: dict[str, int]) -> str:
    values = {
        "project_id": world.ids["project_id"],
        "category_id": world.ids["category_id"],
        "image_id": world.ids["image_id"],
        "run_id": world.ids["run_id"],
        "batch_id": world.ids["batch_id"],
        "group_id": world.ids["group_id"],
        **ids,
    }
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


def call(world: World, who: str, method: str, path: str, row: Row) -> Any:
    url = _url(world, path, row.fresh(world, who) if row.fresh else {})
    caller = world.caller(who)
    files = row.files() if row.files else None
    params = row.query(world) if row.query else None
    if path.startswith("/api/"):
        json = row.json(world) if row.json else None
        data = row.form(world) if row.form else None
        return caller.api.request(method, url, json=json, data=data, files=files, params=params)
    data = {"csrf_token": caller.csrf, **(row.form(world) if row.form else {})}
    if method not in UNSAFE:
        return caller.page.request(method, url, params=params)
    return caller.page.request(method, url, data=data, files=files, params=params)


def problem(expected: str, method: str, path: str, row: Row, resp: Any) -> str | None:
    code, api = resp.status_code, path.startswith("/api/")
    if code >= 500:
        return f"a server error {code}"
    if expected == "login":
        if api:
            return None if code == 401 else f"{code}, not 401"
        to = resp.headers.get("location", "")
        return None if code == 303 and to.startswith("/login") else f"{code} to {to!r}, not login"
    if expected == "ok":
        return None if code < 400 or code in row.also else f"{code}: {shown(resp)}"
    if str(code) != expected:
        return f"{code}, not {expected}: {shown(resp)}"
    if expected == "404" and not PROJECT_ROUTE.match(path):
        # Reached through a row (a category, an image, a run): the 404 names that row and
        # never hints at the project it belongs to.
        text = resp.json()["detail"] if api else page_message(resp.text)
        if "project" in text.lower():
            return f"a 404 that speaks of a project: {text}"
    return None


def page_message(html: str) -> str:
    """The message of the error page, under its heading."""
    found = re.search(r"</h1>\s*<p>(.*?)</p>", html, re.S)
    assert found, html[:500]
    return found.group(1)


def shown(resp: Any) -> str:
    """What a failure report shows of an answer: its message, or what kind of body."""
    kind = resp.headers.get("content-type", "")
    if kind.startswith("text/html"):
        found = re.search(r"</h1>\s*<p>(.*?)</p>", resp.text, re.S)
        return found.group(1) if found else resp.text[-300:]
    if kind.startswith(("application/json", "text/")):
        return str(resp.text[:300])
    return f"a {kind} body of {len(resp.content)} bytes"


def test_each_caller_gets_what_the_table_says_on_every_route(world: World) -> None:
    problems = []
    for (method, path), row in sorted(TABLE.items(), key=lambda item: item[0][::-1]):
        for who in ORDER:
            resp = call(world, who, method, path, row)
            expected = LEVELS[row.level][who]
            found = problem(expected, method, path, row, resp)
            if found:
                problems.append(f"{method} {path} as {who} ({row.level}): {found}")
            if row.ends_session:
                world.log_in_again(who)
    assert not problems, "\n".join(problems)


class Targets(HTMLParser):
    """Where a page sends its user: form actions, links and htmx requests."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.found.append((a.get("method", "get").upper(), a.get("action") or self.page))
        if tag == "a" and "href" in a:
            self.found.append(("GET", a["href"]))
        for attr, method in (("hx-get", "GET"), ("hx-post", "POST"), ("data-upload-url", "POST")):
            if attr in a:
                self.found.append((method, a[attr]))


def route_of(method: str, url: str) -> tuple[tuple[str, str], dict[str, str]] | None:
    """The route a URL leads to, and the ids in its path."""
    path = urlsplit(url).path
    # "/runs/compare" before "/runs/{run_id}": the most literal template wins.
    candidates = sorted((p for m, p in TABLE if m == method), key=lambda p: p.count("{"))
    for template in candidates:
        found = re.fullmatch(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template), path)
        if found:
            return (method, template), found.groupdict()
    return None


def test_no_page_offers_a_caller_a_form_or_link_they_may_not_use(world: World) -> None:
    """Every form and link on every page each caller can open leads to a route of the app
    that this caller may use: labelers see no Export form and no model downloads."""
    pages = [
        (path, row)
        for (method, path), row in sorted(TABLE.items())
        if method == "GET" and not path.startswith("/api/") and path != "/docs"
    ]
    world.pinned()  # so that the taxonomy page shows its unpin form
    problems, forms_seen = [], set()
    for who in ORDER[1:]:
        for path, row in pages:
            if LEVELS[row.level][who] != "ok":
                continue
            resp = call(world, who, "GET", path, row)
            assert resp.status_code in (200, 303), (who, path, resp.status_code)
            if resp.status_code != 200:
                continue
            parser = Targets(str(resp.url))
            parser.feed(resp.text)
            for method, url in parser.found:
                if not url.startswith("/") or url.startswith(("/static/", "//")):
                    continue
                target = route_of(method, url)
                if target is None:
                    problems.append(f"{path} as {who}: {method} {url} is no route of the app")
                    continue
                route, ids = target
                if ids.get("project_id", str(world.ids["project_id"])) != str(
                    world.ids["project_id"]
                ):
                    continue  # the caller's own project (max's Q, on his project list)
                if method == "POST" or url.startswith("/api/"):
                    forms_seen.add(route)
                allowed = LEVELS[TABLE[route].level][who]
                if allowed != "ok":
                    problems.append(f"{path} offers {who} {method} {url}, which gets {allowed}")
    assert not problems, "\n".join(problems)
    page_forms = {(m, p) for m, p in TABLE if m in UNSAFE and not p.startswith("/api/")}
    # The login form sits on the login page, which the logged-in callers do not open.
    assert page_forms - forms_seen <= {("POST", "/login")}, sorted(page_forms - forms_seen)
    for route in (
        ("GET", "/api/v1/projects/{project_id}/export"),
        ("GET", "/api/v1/training-runs/{run_id}/model"),
    ):
        assert route in forms_seen, route  # the manager and the admin are offered them
