"""Who gets the taxonomy page's tree editor: managers only. A labeler of the project sees the
tree but no editor, and the calls the editor makes are refused to them (403) and to a user
outside the project (404), from their own browser sessions."""

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
    unique,
)

pytestmark = pytest.mark.e2e

# What the editor's script sends (static/js/taxonomy-io.js), from the page's own session.
SEND_EDITOR_CALLS = """async ([pid, cid]) => {
  const headers = {"Content-Type": "application/json", "X-CSRF-Token": window.Curator.csrfToken()};
  const send = (method, url, body) =>
    fetch(url, {method, headers, body: JSON.stringify(body)}).then((r) => r.status);
  return [
    await send("POST", `/api/v1/projects/${pid}/categories`, {name: "pine"}),
    await send("PATCH", `/api/v1/categories/${cid}`, {name: "pine"}),
    await send("PATCH", `/api/v1/categories/${cid}`, {parent_id: null, position: 0}),
    await send("DELETE", `/api/v1/categories/${cid}`),
  ];
}"""


def _names(page: Page, pid: int) -> list[str]:
    return [c["name"] for c in page.request.get(f"/api/v1/projects/{pid}/categories").json()]


def test_a_labeler_gets_no_editor_and_the_api_refuses_them_and_outsiders(
    page: Page, new_context: CreateContextCallback
) -> None:
    labeler, outsider, project = unique("lena"), unique("otto"), unique("Trees")
    log_in(page)
    create_user(page, labeler, "labeler")
    create_user(page, outsider, "manager")
    create_project(page, project)
    match = re.search(r"/projects/(\d+)$", page.url)
    assert match
    pid = int(match.group(1))
    made = page.request.post(
        f"/api/v1/projects/{pid}/categories",
        data={"name": "oak"},
        headers={"X-CSRF-Token": page.evaluate("window.Curator.csrfToken()")},
    )
    assert made.status == 201, made.text()
    cid = made.json()["id"]
    add_member(page, project, labeler)
    # The admin, who manages every project, has the editor.
    page.goto(f"/projects/{pid}/taxonomy")
    expect(page.get_by_role("tree", name="Category tree editor")).to_be_visible()
    log_out(page)

    theirs = new_context().new_page()
    log_in(theirs, labeler, USER_PASSWORD)
    theirs.goto(f"/projects/{pid}/taxonomy")
    expect(theirs.get_by_role("list", name="Categories").get_by_text("oak")).to_be_visible()
    expect(theirs.get_by_role("tree")).to_have_count(0)
    expect(theirs.get_by_role("button", name="Add a top-level category")).to_have_count(0)
    assert theirs.evaluate(SEND_EDITOR_CALLS, [pid, cid]) == [403, 403, 403, 403]
    assert _names(theirs, pid) == ["oak"]

    stranger = new_context().new_page()
    log_in(stranger, outsider, USER_PASSWORD)
    assert stranger.evaluate(SEND_EDITOR_CALLS, [pid, cid]) == [404, 404, 404, 404]
    assert _names(theirs, pid) == ["oak"]
