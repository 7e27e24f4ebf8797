"""The taxonomy page's tree editor in Chromium: a whole tree built, renamed, moved and pruned
from the keyboard and by drag and drop, with no page load; the API reads the tree back."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from PIL import Image as PILImage
from playwright.sync_api import Locator, Page, expect

from tests.e2e.flows import create_project, log_in, open_taxonomy, unique
from tests.e2e.test_csp import RECORD_VIOLATIONS

pytestmark = pytest.mark.e2e

FLOWERS = ("daisy", "sunflower", "dandelion", "tulip", "rose", "iris", "lily")
TREES = ("oak", "pine", "birch", "maple")
GRASSES = ("wheat", "bamboo")


class Editor:
    """The editor as a user meets it: a tree of items, a name field, what it says."""

    def __init__(self, page: Page, pid: int) -> None:
        self.page, self.pid = page, pid
        self.tree = page.get_by_role("tree", name="Category tree editor")
        self.errors: list[str] = []  # script errors in the page; there must be none
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def problems(self) -> list[str]:
        """Script errors, and what the Content-Security-Policy refused (none of either)."""
        return [*self.errors, *self.page.evaluate("window.__csp")]

    def item(self, name: str) -> Locator:
        return self.tree.get_by_role("treeitem", name=name, exact=True)

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)

    def go_to(self, name: str) -> None:
        """Arrow keys from wherever the focus is, until `name` has it."""
        order = [c["name"] for c in self.api()]
        start = self.page.evaluate("document.activeElement.getAttribute('aria-label')")
        steps = order.index(name) - order.index(start)
        for _ in range(abs(steps)):
            self.press("ArrowDown" if steps > 0 else "ArrowUp")
        expect(self.item(name)).to_be_focused()

    def type_name(self, key: str, name: str) -> None:
        """`key` opens a name field (C, N or Enter); the name goes in and Enter sends it."""
        self.press(key)
        field = self.tree.get_by_role("textbox")
        expect(field).to_be_focused()
        self.page.keyboard.type(name)
        self.press("Enter")

    def add(self, key: str, name: str) -> None:
        self.type_name(key, name)
        expect(self.item(name)).to_be_focused()

    def refused(self, key: str, name: str, reason: str) -> None:
        """The name is refused in place: the field stays, marked, with the reason beside it."""
        before = self.api()
        self.type_name(key, name)
        expect(self.tree.get_by_role("alert")).to_contain_text(reason)
        field = self.tree.get_by_role("textbox")
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_accessible_description(re.compile(re.escape(reason)))
        self.press("Escape")
        expect(self.tree.get_by_role("textbox")).to_have_count(0)
        expect(self.tree.get_by_role("alert")).to_have_count(0)
        assert self.api() == before

    def drag(self, source: Locator, target: Locator) -> None:
        """Press on the source's row, move in steps onto the target's first line, let go."""
        target.scroll_into_view_if_needed()
        source.scroll_into_view_if_needed()
        start, end = source.bounding_box(), target.bounding_box()
        assert start
        assert end
        mouse = self.page.mouse
        mouse.move(start["x"] + 30, start["y"] + 10)
        mouse.down()
        mouse.move(start["x"] + 40, start["y"] + 14, steps=3)
        mouse.move(end["x"] + 30, end["y"] + 10, steps=5)
        mouse.up()

    def says(self, text: str) -> None:
        expect(self.page.get_by_text(text, exact=True)).to_be_visible()

    def api(self) -> list[dict[str, Any]]:
        response = self.page.request.get(f"/api/v1/projects/{self.pid}/categories")
        assert response.ok, response.text()
        return list(response.json())

    def paths(self) -> list[str]:
        return [c["path"] for c in self.api()]


def _open(page: Page) -> Editor:
    project = unique("Plants")
    page.add_init_script(RECORD_VIOLATIONS)
    log_in(page)
    create_project(page, project)
    match = re.search(r"/projects/(\d+)$", page.url)
    assert match
    open_taxonomy(page, project)
    return Editor(page, int(match.group(1)))


def _expected_tree() -> list[str]:
    return (
        ["plant", "plant/flower"]
        + [f"plant/flower/{f}" for f in FLOWERS]
        + ["plant/tree"]
        + [f"plant/tree/{t}" for t in TREES]
        + ["plant/grass"]
        + [f"plant/grass/{g}" for g in GRASSES]
        + ["plant/fern"]
    )


def test_a_manager_builds_edits_and_prunes_a_tree_from_the_keyboard(page: Page) -> None:
    ed = _open(page)
    loads: list[str] = []
    page.on(
        "framenavigated",
        lambda frame: loads.append(frame.url) if frame == page.main_frame else None,
    )
    page.evaluate("window.__sameDocument = true")  # a page load would forget this

    # 18 categories, three levels: C adds a child, N a sibling, Left goes up to the parent.
    page.get_by_role("button", name="Add a top-level category").focus()
    ed.add("Enter", "plant")
    ed.add("c", "flower")
    ed.add("c", FLOWERS[0])
    for name in FLOWERS[1:]:
        ed.add("n", name)
    ed.says("Added plant/flower/lily.")
    for family, members in (("tree", TREES), ("grass", GRASSES)):
        ed.press("ArrowLeft")
        ed.add("n", family)
        ed.add("c", members[0])
        for name in members[1:]:
            ed.add("n", name)
    ed.press("ArrowLeft")
    ed.add("n", "fern")
    assert ed.paths() == _expected_tree()
    expect(ed.tree.get_by_role("treeitem")).to_have_count(18)
    expect(ed.item("daisy")).to_have_attribute("aria-level", "3")

    # Refused names stay in their field with the reason: nothing is written.
    ed.go_to("lily")
    ed.refused("n", "Daisy", "A category named 'daisy' already exists under this parent.")
    ed.refused("n", "1ily", "reads like 'lily'")
    ed.refused("n", "x" * 101, "at most 100 characters")
    ed.refused("n", "", "at least 1 character")
    ed.refused("n", "a/b", "must not contain /")
    expect(ed.item("lily")).to_be_focused()  # Escape gave the focus back

    # A category cannot go inside itself: cut flower, paste into its own daisy.
    ed.go_to("flower")
    ed.press("x")
    ed.go_to("daisy")
    ed.press("v")
    expect(ed.tree.get_by_role("alert")).to_contain_text("inside itself")
    assert ed.paths() == _expected_tree()
    ed.press("Escape")
    expect(ed.tree.get_by_role("alert")).to_have_count(0)

    # Rename in place: Enter, the old name is selected, typing replaces it.
    ed.go_to("fern")
    ed.type_name("Enter", "ferns")
    expect(ed.item("ferns")).to_be_focused()
    ed.says("Renamed fern to ferns.")
    assert ed.paths()[-1] == "plant/ferns"

    # Moves by keyboard: X, then V inside the focused category, Shift+V beside it.
    ed.press("x")
    ed.go_to("tree")
    ed.press("v")
    expect(ed.item("ferns")).to_be_focused()
    ed.says("Moved plant/ferns to plant/tree/ferns.")
    ed.go_to("oak")
    ed.press("x")
    ed.go_to("plant")
    ed.press("Shift+V")
    expect(ed.item("oak")).to_be_focused()
    assert [c["path"] for c in ed.api() if c["parent_id"] is None] == ["plant", "oak"]
    ed.press("Alt+ArrowUp")  # reorder among siblings
    ed.says("Moved oak to place 1 at the top level.")
    expect(ed.item("oak")).to_be_focused()
    assert [c["path"] for c in ed.api() if c["parent_id"] is None] == ["oak", "plant"]

    # Moves by drag and drop: onto a category's row, and onto the top-level strip.
    page.set_viewport_size({"width": 1280, "height": 1000})  # both ends of a drag in view
    ed.drag(ed.item("bamboo"), ed.item("tree"))
    ed.says("Moved plant/grass/bamboo to plant/tree/bamboo.")
    assert "plant/tree/bamboo" in ed.paths()
    ed.drag(ed.item("wheat"), page.get_by_text("Drop a category here to move it to the top level"))
    ed.says("Moved plant/grass/wheat to wheat.")
    assert [c["path"] for c in ed.api() if c["parent_id"] is None] == ["oak", "plant", "wheat"]

    # Delete asks first; Escape keeps it, Enter on the confirmation deletes it.
    ed.item("maple").click()
    ed.press("Delete")
    confirm = ed.tree.get_by_role("group", name="Delete plant/tree/maple?")
    expect(confirm.get_by_role("button", name="Delete", exact=True)).to_be_focused()
    ed.press("Escape")
    expect(confirm).to_have_count(0)
    expect(ed.item("maple")).to_be_focused()
    assert "plant/tree/maple" in ed.paths()
    ed.press("Delete")
    ed.press("Enter")
    expect(ed.item("maple")).to_have_count(0)
    ed.says("Deleted plant/tree/maple.")
    expect(ed.item("ferns")).to_be_focused()  # its next sibling
    assert "plant/tree/maple" not in ed.paths()
    # A parent is refused with the reason, in place.
    ed.go_to("flower")
    ed.press("Delete")
    ed.press("Enter")
    expect(ed.tree.get_by_role("alert")).to_contain_text("move or delete them first")
    assert "plant/flower" in ed.paths()

    # The list and the forms below caught up without a reload, and none happened.
    listed = page.get_by_role("list", name="Categories")
    expect(listed.get_by_text("ferns", exact=True)).to_be_visible()
    expect(listed.get_by_text("maple", exact=True)).to_have_count(0)
    assert loads == []
    assert page.evaluate("window.__sameDocument") is True
    assert ed.problems() == []


def test_the_editor_shows_an_imported_tree_and_keeps_the_forms(page: Page) -> None:
    ed = _open(page)
    text = "glass\n  wine glass\n  beer glass\ncup\n"
    imported = page.request.post(
        f"/api/v1/projects/{ed.pid}/taxonomy",
        data={"text": text},
        headers={"X-CSRF-Token": page.evaluate("window.Curator.csrfToken()")},
    )
    assert imported.ok, imported.text()
    page.reload()
    expect(ed.item("beer glass")).to_have_attribute("aria-level", "2")
    expect(ed.item("glass")).to_have_attribute("aria-expanded", "true")
    # Tab reaches the tree once, on its first item.
    page.get_by_role("button", name="Add a top-level category").focus()
    ed.press("Tab")
    expect(ed.item("glass")).to_be_focused()
    ed.press("ArrowLeft")  # collapse: its children leave the keyboard's path
    expect(ed.item("wine glass")).to_be_hidden()
    ed.press("ArrowDown")
    expect(ed.item("cup")).to_be_focused()
    ed.add("c", "mug")
    assert ed.paths() == ["glass", "glass/wine glass", "glass/beer glass", "cup", "cup/mug"]
    # Markup in a name is a name: shown as text, never run.
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    hostile = "<img src=x onerror=alert(1)> & <b>bold"  # no slash: it separates levels
    ed.add("n", hostile)
    expect(ed.item(hostile)).to_contain_text(hostile)
    expect(page.get_by_role("main").get_by_role("img")).to_have_count(0)
    assert ed.paths()[-1] == f"cup/{hostile}"
    assert dialogs == []

    # A category that labels point at: the editor sends the choice of their home to its form.
    csrf = {"X-CSRF-Token": page.evaluate("window.Curator.csrfToken()")}
    png = io.BytesIO()
    PILImage.new("RGB", (24, 24), (200, 60, 40)).save(png, "PNG")
    files = {"name": "mug.png", "mimeType": "image/png", "buffer": png.getvalue()}
    added = page.request.post(
        f"/api/v1/projects/{ed.pid}/images?mode=sync", multipart={"files": files}, headers=csrf
    )
    assert added.ok, added.text()
    image = page.request.get(f"/api/v1/projects/{ed.pid}/images").json()["items"][0]
    mug = next(c["id"] for c in ed.api() if c["name"] == "mug")
    labeled = page.request.post(
        f"/api/v1/images/{image['id']}/annotations", data={"category_id": mug}, headers=csrf
    )
    assert labeled.status == 201, labeled.text()
    ed.go_to("mug")
    ed.press("Delete")
    ed.press("Enter")
    expect(ed.tree.get_by_role("alert")).to_contain_text(
        "Choose where they go in its Edit form, in the list below."
    )
    assert "cup/mug" in ed.paths()
    # The form still adds a category without the editor (a full page load).
    form = page.get_by_role("form", name="Add a category")
    form.get_by_label("Name", exact=True).fill("bowl")
    form.get_by_role("button", name="Add category").click()
    expect(page.get_by_role("status")).to_contain_text("Added bowl (key ")
    expect(ed.item("bowl")).to_be_visible()
    assert ed.problems() == []
