"""Every page keeps to the Content-Security-Policy in real Chromium: no violation report,
no refused script or style, no script error, on every HTML page of the app.

The admin looks at a project with a taxonomy, images, an import and two real training
runs, so each page shows what it would in use (charts, confusion matrix, guide, grid).
"""

from __future__ import annotations

import io
import re
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Browser, Page, Playwright, expect

from app.config import Settings
from app.main import create_app
from tests.e2e.conftest import ADMIN_PASSWORD
from tests.e2e.flows import ADMIN, log_in, unique
from tests.support.datasets import FLOWERS12
from tests.support.env import require
from tests.support.routes import all_routes

pytestmark = pytest.mark.e2e

FLOWERS = FLOWERS12
SPECIES = ("daisy", "sunflower")
LABELED_PER_SPECIES = 5
RUN_TIMEOUT_S = 300.0  # the first run of a session loads the backbone on a 2-core CPU

# Installed before any page script: every violation the browser reports is kept in the
# page, to be read before the next navigation.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile || location.pathname}:${e.lineNumber} (${e.sample || ""})`);
});
"""


@dataclass
class Stock:
    pid: int
    image_id: int
    batch_id: int
    runs: tuple[int, int]
    cell: tuple[int, int]  # (true_id, predicted_id) of a confusion-matrix cell


def _ok(response: Any) -> Any:
    assert response.ok, f"{response.url}: HTTP {response.status} {response.text()}"
    return response.json()


def _train(api: APIRequestContext, pid: int) -> int:
    rid = int(_ok(api.post(f"/api/v1/projects/{pid}/training-runs", data={"mode": "linear"}))["id"])
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while (run := _ok(api.get(f"/api/v1/training-runs/{rid}")))["status"] in {"queued", "running"}:
        assert time.monotonic() < deadline, f"run #{rid} did not end in {RUN_TIMEOUT_S} s"
        time.sleep(0.5)
    assert run["status"] == "succeeded", run
    return rid


@pytest.fixture(scope="module")
def stock(playwright: Playwright, base_url: str) -> Iterator[Stock]:
    require(FLOWERS.is_dir(), f"The flowers12 dataset is missing: {FLOWERS}")
    login = playwright.request.new_context(base_url=base_url)
    form: dict[str, str | float | bool] = {"username": ADMIN, "password": ADMIN_PASSWORD}
    token = _ok(login.post("/api/v1/auth/token", form=form))["access_token"]
    login.dispose()
    api = playwright.request.new_context(
        base_url=base_url, extra_http_headers={"Authorization": f"Bearer {token}"}
    )
    try:
        pid = int(_ok(api.post("/api/v1/projects", data={"name": unique("Policy")}))["id"])
        _ok(api.patch(f"/api/v1/projects/{pid}", data={"auto_train_every": 0}))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for species in SPECIES:
                photos = sorted((FLOWERS / "train" / species).glob("*.jpg"))
                for path in photos[:LABELED_PER_SPECIES]:
                    archive.write(path, f"{species}/{path.name}")
                # One unlabeled photo per species, so the queue has work.
                archive.write(photos[LABELED_PER_SPECIES], f"new-{species}.jpg")
        upload = _ok(
            api.post(
                f"/api/v1/projects/{pid}/images?mode=sync",
                multipart={
                    "files": {
                        "name": "f.zip",
                        "mimeType": "application/zip",
                        "buffer": buffer.getvalue(),
                    },
                    "labels_from_folders": "true",
                },
            )
        )
        assert upload["errors"] == [], upload
        categories = _ok(api.get(f"/api/v1/projects/{pid}/categories"))
        for category in categories:
            change = {"description": f"A **{category['name']}**: see the\n\n- petals\n- center"}
            _ok(api.patch(f"/api/v1/categories/{category['id']}", data=change))
        image_id = _ok(api.get(f"/api/v1/projects/{pid}/images?limit=1"))["items"][0]["id"]
        runs = (_train(api, pid), _train(api, pid))
        ids = [c["id"] for c in categories]
        yield Stock(pid, image_id, int(upload["batch_id"]), runs, (ids[0], ids[0]))
    finally:
        api.dispose()


def _pages(s: Stock) -> dict[str, str]:
    """Every full HTML page of the app (route template -> an address with real ids)."""
    p, (r1, r2), (t, pr) = s.pid, s.runs, s.cell
    return {
        "/login": "/login",
        "/": "/",
        "/projects": "/projects",
        "/admin/users": "/admin/users",
        "/docs": "/docs",
        "/projects/{project_id}": f"/projects/{p}",
        "/projects/{project_id}/taxonomy": f"/projects/{p}/taxonomy",
        "/projects/{project_id}/images": f"/projects/{p}/images",
        "/projects/{project_id}/duplicates": f"/projects/{p}/duplicates",
        "/projects/{project_id}/imports": f"/projects/{p}/imports",
        "/imports/{batch_id}": f"/imports/{s.batch_id}",
        "/images/{image_id}": f"/images/{s.image_id}",
        "/projects/{project_id}/label": f"/projects/{p}/label",
        "/projects/{project_id}/grid": f"/projects/{p}/grid",
        "/projects/{project_id}/map": f"/projects/{p}/map",
        "/projects/{project_id}/training": f"/projects/{p}/training",
        "/projects/{project_id}/agreement": f"/projects/{p}/agreement",
        "/projects/{project_id}/runs/{run_id}": f"/projects/{p}/runs/{r1}",
        "/projects/{project_id}/runs/{run_id}/cell": (
            f"/projects/{p}/runs/{r1}/cell?true_id={t}&predicted_id={pr}"
        ),
        "/projects/{project_id}/runs/compare": f"/projects/{p}/runs/compare?a={r1}&b={r2}",
    }


def _page_routes() -> set[str]:
    """The app's HTML GET routes, partials (a "/_" segment, loaded by htmx) left out."""
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(Settings(env="test", data_dir=Path(data_dir), secret_key="k" * 40))
        routes = {path for method, path in all_routes(app) if method == "GET"}
        app.state.engine.dispose()
    return {r for r in routes if not r.startswith(("/api/", "/static")) and "/_" not in r}


class Watch:
    """What the browser said about the policy on the current page."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        self.errors: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.console.append(text)

    def visit(self, address: str) -> None:
        response = self.page.goto(address, wait_until="networkidle")
        assert response is not None, address
        assert response.ok, f"{address}: HTTP {response.status}"
        policy = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in policy, f"{address}: {policy!r}"

    def found(self) -> list[str]:
        """Everything reported so far on this page, then forgotten."""
        reported = self.page.evaluate("window.__csp.splice(0)")
        found = [*reported, *self.console, *self.errors]
        self.console.clear()
        self.errors.clear()
        return found


def _use(page: Page, route: str) -> None:
    """What a user does on the pages that change after they load."""
    if route == "/projects/{project_id}/label":
        # The screen draws the image and its suggestions, then takes a key.
        expect(page.locator("#label-settings")).to_be_attached()
        page.keyboard.press("?")
        expect(page.get_by_role("dialog")).to_be_visible()
    elif route == "/projects/{project_id}/runs/{run_id}":
        # A confusion-matrix cell opens its images in a panel through htmx.
        page.get_by_role("link", name=re.compile(r"^\d+ labeled ")).first.click()
        expect(page.locator("#cell-panel")).not_to_be_empty()
    elif route == "/projects/{project_id}/taxonomy":
        # The tree editor drew the tree from the API; a rename opens in place and is cancelled.
        tree = page.get_by_role("tree", name="Category tree editor")
        tree.get_by_role("treeitem").first.focus()
        page.keyboard.press("Enter")
        expect(tree.get_by_role("textbox")).to_be_focused()
        page.keyboard.press("Escape")
        expect(tree.get_by_role("textbox")).to_have_count(0)
    elif route == "/docs":
        # Swagger UI started (from static/js/docs.js) and drew the schema.
        expect(page.get_by_text("/api/v1/health").first).to_be_visible()


@pytest.fixture
def watched(browser: Browser, base_url: str) -> Iterator[tuple[Page, Watch]]:
    context = browser.new_context(base_url=base_url)
    try:
        page = context.new_page()
        yield page, Watch(page)
    finally:
        context.close()


def test_the_table_names_every_page_of_the_app() -> None:
    sample = Stock(1, 1, 1, (1, 2), (1, 1))
    assert _page_routes() == set(_pages(sample)), "a page is missing from _pages()"


def test_no_page_breaks_the_content_security_policy(
    watched: tuple[Page, Watch], stock: Stock
) -> None:
    page, watch = watched
    problems: dict[str, list[str]] = {}

    watch.visit("/login")
    problems["/login"] = watch.found()
    log_in(page)
    for route, address in _pages(stock).items():
        watch.visit(address)
        try:
            _use(page, route)
        except AssertionError as exc:
            problems[route] = [f"did not work: {str(exc).splitlines()[0]}"]
        problems.setdefault(route, []).extend(watch.found())

    broken = {route: found for route, found in problems.items() if found}
    assert broken == {}, f"pages that broke the policy: {broken}"


def test_htmx_indicators_stay_hidden_without_its_inline_style(
    watched: tuple[Page, Watch],
) -> None:
    page, watch = watched
    watch.visit("/login")
    log_in(page)
    watch.visit("/projects")
    # htmx no longer injects its <style>; the stylesheet hides indicators instead.
    assert page.locator("head style").count() == 0
    opacity = page.evaluate(
        """() => {
          const el = document.createElement("span");
          el.className = "htmx-indicator";
          el.textContent = "loading";
          document.body.append(el);
          return getComputedStyle(el).opacity;
        }"""
    )
    assert opacity == "0"
    assert watch.found() == []


def test_the_watch_sees_a_violation(watched: tuple[Page, Watch]) -> None:
    """The detector itself works: an inline style added by a script is refused and seen."""
    page, watch = watched
    watch.visit("/login")
    page.evaluate(
        """() => {
          const style = document.createElement("style");
          style.textContent = "body { color: red }";
          document.head.append(style);
        }"""
    )
    page.wait_for_function("window.__csp.length > 0")
    found = watch.found()
    assert any("style-src" in line for line in found), found
    assert page.evaluate("getComputedStyle(document.body).color") != "rgb(255, 0, 0)"
