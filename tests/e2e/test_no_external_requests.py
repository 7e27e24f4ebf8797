"""Nothing a page loads comes from outside the server: no CDN, no fonts, no telemetry."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Response, expect

from tests.e2e.flows import log_in

pytestmark = pytest.mark.e2e

LOADED_FROM_THE_SERVER = (
    "/static/css/curator.css",
    "/static/vendor/htmx.min.js",
    "/static/js/curator.js",
    "/static/vendor/swagger-ui/swagger-ui-bundle.js",
    "/static/vendor/swagger-ui/swagger-ui.css",
    "/api/v1/openapi.json",
)


@pytest.mark.parametrize("server", ["loopback", "public name"])
def test_pages_load_only_from_the_server_itself(
    browser: Browser, live_server: str, public_base_url: str, server: str
) -> None:
    base = live_server if server == "loopback" else public_base_url
    context = browser.new_context(base_url=base)
    try:
        page = context.new_page()
        requested: list[str] = []
        failed: list[str] = []

        def on_response(response: Response) -> None:
            if response.status >= 400:
                failed.append(f"{response.url} HTTP {response.status}")

        # On the context, so requests of any page or worker count, not only this tab's.
        context.on("request", lambda request: requested.append(request.url))
        # ERR_ABORTED is the browser dropping a request of a page it navigates away from
        # (the favicon, while the login form submits), not a failure of the server.
        context.on(
            "requestfailed",
            lambda r: (
                None if "ERR_ABORTED" in str(r.failure) else failed.append(f"{r.url} {r.failure}")
            ),
        )
        context.on("response", on_response)

        page.goto("/login", wait_until="networkidle")
        log_in(page)
        page.goto("/projects", wait_until="networkidle")
        page.goto("/docs", wait_until="networkidle")

        # Swagger UI ran (from /static/vendor) and fetched the schema with the login cookie.
        expect(page).to_have_title("Curator API")
        expect(page.get_by_role("heading", name="Curator").first).to_be_visible()
        expect(page.get_by_text("/api/v1/health").first).to_be_visible()
    finally:
        context.close()

    outside = [url for url in requested if not url.startswith(f"{base}/")]
    assert outside == [], f"requests left the server: {outside}"
    assert failed == [], f"requests failed: {failed}"
    missing = [path for path in LOADED_FROM_THE_SERVER if f"{base}{path}" not in requested]
    assert missing == [], f"never loaded: {missing}"
