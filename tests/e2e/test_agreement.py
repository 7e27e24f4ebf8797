"""The agreement card in Chromium: htmx loads it into the project page, and on its own
page a confused pair's image link opens that image."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, expect

from app.auth.models import User
from tests.conftest import PASSWORD, ClientFor, UserFactory
from tests.insights.agreement_helpers import make_six
from tests.support.processes import free_port, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    """The test's app over real HTTP (uvicorn in a thread)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=20, what="uvicorn to start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_card_loads_and_its_links_lead_to_the_images(
    browser: Browser,
    served: str,
    api_as: ClientFor,
    admin: User,
    make_user: UserFactory,
) -> None:
    six = make_six(api_as, admin, make_user)
    pid, boss = six.c.s.pid, six.c.boss
    page = browser.new_context(base_url=served).new_page()
    page.goto("/login")
    page.get_by_label("Username", exact=True).fill(boss.username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/projects$"))

    page.goto(f"/projects/{pid}")
    # htmx swaps the placeholder for the card (it may sit in a tab not shown yet).
    expect(page.locator("#agreement [data-kappa]")).to_have_text("0.41: moderate agreement")
    expect(page.locator("#agreement [data-alpha]")).to_contain_text("0.46")

    page.goto(f"/projects/{pid}/agreement")
    expect(page.get_by_role("heading", name="Most confused")).to_be_visible()
    settled = six.images["settled"]
    page.get_by_role("link", name=re.compile(rf"^Image {settled} \(")).click()
    expect(page).to_have_url(re.compile(rf"/images/{settled}$"))
