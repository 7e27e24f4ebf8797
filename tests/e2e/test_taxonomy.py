"""The taxonomy page through the browser: a tree built with forms, markup shown as text."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Dialog, Page, expect
from pytest_playwright import CreateContextCallback

from tests.e2e.flows import add_category, create_project, log_in, open_taxonomy, unique

pytestmark = pytest.mark.e2e


def test_a_manager_builds_a_two_level_tree_without_javascript(
    new_context: CreateContextCallback,
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    project = unique("Glassware")
    log_in(page)
    create_project(page, project)
    open_taxonomy(page, project)
    breadcrumb = page.get_by_role("navigation", name="Breadcrumb")
    expect(breadcrumb.get_by_role("link", name=project, exact=True)).to_be_visible()
    expect(page.get_by_text("No categories yet: add the first one below.")).to_be_visible()

    add_category(page, "glass", description="Anything **made of glass**.")
    add_category(page, "wine glass", parent="glass", shortcut="w")
    add_category(page, "beer glass", parent="glass")
    expect(page.get_by_role("status")).to_contain_text("Added glass/beer glass (key 2).")

    tree = page.get_by_role("list", name="Categories")
    expect(tree.get_by_role("strong").filter(has_text="made of glass")).to_be_visible()
    inside = tree.get_by_role("list", name="Inside glass")
    items = inside.get_by_role("listitem")
    expect(items).to_have_count(2)
    expect(items.nth(0).get_by_text("wine glass", exact=True)).to_be_visible()
    expect(items.nth(0).get_by_text("w", exact=True)).to_be_visible()  # its key badge
    expect(items.nth(1).get_by_text("beer glass", exact=True)).to_be_visible()
    expect(items.nth(1).get_by_text("2", exact=True)).to_be_visible()
    parents = page.get_by_role("form", name="Add a category").get_by_role("combobox", name="Parent")
    expect(parents.get_by_role("option")).to_have_text(
        ["(top level)", "glass", "glass/wine glass", "glass/beer glass"]
    )

    # Rename and move one through its edit form; the tree follows.
    # A disclosure ("Edit", then the path for screen readers) that opens without JavaScript.
    page.get_by_text("Edit glass/beer glass", exact=True).click()
    edit = page.get_by_role("form", name="Edit glass/beer glass")
    edit.get_by_label("Name", exact=True).fill("beer mug")
    edit.get_by_role("combobox", name="Parent").select_option(label="(top level)")
    edit.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved beer mug (key 2).")
    expect(inside.get_by_role("listitem")).to_have_count(1)
    expect(tree.get_by_role("listitem")).to_have_count(3)

    # Deleting a parent is refused with the reason; its children stay.
    page.get_by_text("Edit glass", exact=True).click()
    page.get_by_role("button", name="Delete glass", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("move or delete them first")
    expect(tree.get_by_text("wine glass", exact=True)).to_be_visible()


def test_markup_in_names_and_descriptions_is_shown_as_text(page: Page) -> None:
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    project = unique("Hostile")
    name = "<img src=x onerror=alert(1)>"
    description = "<script>alert(2)</script> and **bold** <i>tilted</i>"
    log_in(page)
    create_project(page, project)
    open_taxonomy(page, project)
    add_category(page, name, description=description)

    tree = page.get_by_role("list", name="Categories")
    expect(tree.get_by_role("strong").filter(has_text=name)).to_be_visible()
    shown = tree.get_by_role("paragraph")
    expect(shown).to_have_text("<script>alert(2)</script> and bold <i>tilted</i>")
    expect(shown.get_by_role("strong")).to_have_text("bold")
    # No element came out of the markup: no image, no emphasis, no script in the page body.
    expect(page.get_by_role("img")).to_have_count(0)
    expect(shown.get_by_role("emphasis")).to_have_count(0)
    expect(page.get_by_role("main").locator("script")).to_have_count(0)
    expect(page.get_by_role("status")).to_have_text(re.compile(re.escape(f"Added {name}")))
    assert dialogs == []
