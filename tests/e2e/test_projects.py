"""Projects through the browser: the acceptance path, no-JavaScript forms, membership."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from pytest_playwright import CreateContextCallback

from tests.e2e.flows import (
    USER_PASSWORD,
    add_member,
    create_project,
    create_user,
    log_in,
    log_out,
    project_list,
    unique,
)

pytestmark = pytest.mark.e2e

LOGIN_URL = re.compile(r"/login\?next=%2Fprojects$")


def test_admin_creates_a_project_sees_it_listed_and_logs_out(page: Page) -> None:
    name = unique("Wine glasses")
    log_in(page)
    create_project(page, name, "Glassware photos from the shop floor.")

    listed = project_list(page).get_by_role("list", name="Projects")
    expect(listed.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(listed.get_by_role("listitem").filter(has_text=name)).to_contain_text(
        "Glassware photos from the shop floor."
    )

    log_out(page)
    page.goto("/projects")
    expect(page).to_have_url(LOGIN_URL)
    expect(page.get_by_role("heading", name="Log in to Curator")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)


def test_forms_work_without_javascript(new_context: CreateContextCallback) -> None:
    page = new_context(java_script_enabled=False).new_page()
    name = unique("No script")
    log_in(page)
    create_project(page, name)
    expect(project_list(page).get_by_role("link", name=name, exact=True)).to_be_visible()
    log_out(page)


def test_a_labeler_sees_only_the_projects_they_were_added_to(
    page: Page, new_context: CreateContextCallback
) -> None:
    manager, labeler = unique("mona"), unique("lena")
    mine, other = unique("Street signs"), unique("Birds")

    log_in(page)
    create_user(page, manager, "manager")
    create_user(page, labeler, "labeler")
    log_out(page)

    manager_page = new_context().new_page()
    log_in(manager_page, manager, USER_PASSWORD)
    create_project(manager_page, mine)
    create_project(manager_page, other)
    other_url = manager_page.url
    add_member(manager_page, mine, labeler)

    labeler_page = new_context().new_page()
    log_in(labeler_page, labeler, USER_PASSWORD)
    listed = project_list(labeler_page).get_by_role("list", name="Projects")
    expect(listed.get_by_role("listitem")).to_have_count(1)
    expect(listed.get_by_role("link", name=mine, exact=True)).to_be_visible()
    expect(labeler_page.get_by_role("link", name=other, exact=True)).to_have_count(0)
    expect(labeler_page.get_by_role("heading", name="New project")).to_have_count(0)
    expect(labeler_page.get_by_role("button", name="Create project")).to_have_count(0)

    # Not listed is not enough: the other project's own page is closed to them too.
    labeler_page.goto(other_url)
    expect(labeler_page.get_by_role("heading", level=1)).to_have_text(
        re.compile("Not found|Not allowed")
    )
    expect(labeler_page.get_by_text(other)).to_have_count(0)
