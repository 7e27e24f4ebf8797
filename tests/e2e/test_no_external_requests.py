"""Nothing a page loads comes from outside the server: no CDN, no fonts, no telemetry."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Response, expect

from tests.e2e.flows import log_in

pytestmark = pytest.mark.e2e


def test_pages_load_only_from_the_server_itself(page: Page, base_url: str) -> None:
    requested: list[str] = []
    failed: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("requestfailed", lambda request: failed.append(f"{request.url} {request.failure}"))

    def on_response(response: Response) -> None:
        if response.status >= 400:
            failed.append(f"{response.url} HTTP {response.status}")

    page.on("response", on_response)

    page.goto("/login", wait_until="networkidle")
    log_in(page)
    page.goto("/projects", wait_until="networkidle")
    page.goto("/docs", wait_until="networkidle")

    # Swagger UI ran (from /static/vendor) and fetched the schema with the login cookie.
    expect(page).to_have_title("Curator API")
    expect(page.get_by_role("heading", name="Curator", exact=False).first).to_be_visible()
    expect(page.get_by_text("/api/v1/health").first).to_be_visible()

    outside = [url for url in requested if not url.startswith(f"{base_url}/")]
    assert outside == [], f"requests left the server: {outside}"
    assert failed == [], f"requests failed: {failed}"
    for path in (
        "/static/css/curator.css",
        "/static/vendor/htmx.min.js",
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/vendor/swagger-ui/swagger-ui.css",
        "/api/v1/openapi.json",
    ):
        assert f"{base_url}{path}" in requested, f"{path} was never loaded"
