"""What a person does in the UI, step by step, by roles and labels (never CSS paths)."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN_PASSWORD

ADMIN = "admin"
USER_PASSWORD = "e2e-user-password"


def unique(prefix: str) -> str:
    """A name no other test in the session uses (they all share one server)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def log_in(page: Page, username: str = ADMIN, password: str = ADMIN_PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/projects$"))
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("status")).to_contain_text("You are logged out.")


def project_list(page: Page) -> Page:
    page.goto("/projects")
    expect(page.get_by_role("heading", level=1, name="Projects")).to_be_visible()
    return page


def create_project(page: Page, name: str, description: str = "") -> None:
    """From /projects; ends on the new project's page."""
    project_list(page)
    page.get_by_label("Name", exact=True).fill(name)
    if description:
        page.get_by_label("Description", exact=True).fill(description)
    page.get_by_role("button", name="Create project").click()
    expect(page).to_have_url(re.compile(r"/projects/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.get_by_role("status")).to_contain_text(f"Created project {name}.")


def create_user(page: Page, username: str, role: str, password: str = USER_PASSWORD) -> None:
    """As an admin, through the form on /admin/users."""
    page.goto("/admin/users")
    # exact: the table has its own "Role of <user>" and "New password for <user>" fields.
    # The select is found by its role: get_by_label matches a wrapping label's whole text,
    # option texts included, though the accessible name is just "Role".
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("combobox", name="Role", exact=True).select_option(role)
    page.get_by_role("button", name="Create user").click()
    expect(page).to_have_url(re.compile(r"/admin/users$"))
    expect(page.get_by_role("status")).to_contain_text(f"Created {role} {username}.")
    users = page.get_by_role("table", name="All users")
    expect(users.get_by_role("row").filter(has_text=username)).to_have_count(1)


def open_tab(page: Page, name: str) -> None:
    """On a project's page, open one of its sections (the page opens on the overview)."""
    tab = page.get_by_role("navigation", name="Project sections").get_by_role(
        "link", name=name, exact=True
    )
    if tab.get_attribute("aria-current") != "page":
        tab.click()
    expect(tab).to_have_attribute("aria-current", "page")


def add_member(page: Page, project_name: str, username: str, role: str = "labeler") -> None:
    """As a manager: open the project from the list and use its member form."""
    project_list(page).get_by_role("link", name=project_name, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(project_name)
    open_tab(page, "People")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_role("combobox", name="Role", exact=True).select_option(role)
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status")).to_contain_text(f"Added {username} as {role}.")
    members = page.get_by_role("table", name=f"Members of {project_name}")
    expect(members.get_by_role("row").filter(has_text=username)).to_contain_text(role)


def open_taxonomy(page: Page, project_name: str) -> None:
    """From the project's page, through its Taxonomy link."""
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Taxonomy").click()
    expect(page).to_have_url(re.compile(r"/projects/\d+/taxonomy$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Taxonomy of {project_name}")


def add_category(
    page: Page, name: str, parent: str = "", shortcut: str = "", description: str = ""
) -> None:
    """As a manager, on the taxonomy page: the add form, with the parent picked by its path."""
    form = page.get_by_role("form", name="Add a category")
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_role("combobox", name="Parent").select_option(label=parent or "(top level)")
    form.get_by_label("Shortcut").fill(shortcut)
    form.get_by_label("Description").fill(description)
    form.get_by_role("button", name="Add category").click()
    path = f"{parent}/{name}" if parent else name
    expect(page.get_by_role("status")).to_contain_text(f"Added {path} (key ")
