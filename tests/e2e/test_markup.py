"""Markup that users type stays text, in real Chromium: category names, guidelines
(markdown) and reject reasons that carry <img onerror> and <script> are shown literally
on the labeling screen, the grid, the taxonomy page and an image's history, and none of
them runs. Also the labeling screen's tree by keyboard: search, Tab into a parent's
sub-categories, Enter on it, and Esc back up."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2 as httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import ADMIN_PASSWORD
from tests.e2e.flows import ADMIN, log_in, unique
from tests.images import corpus

pytestmark = pytest.mark.e2e

# Names cannot hold "/" (it separates a path), so their payloads close nothing.
PARENT = "<img src=x onerror=window.__xss=1>"
CHILD = "<svg onload=window.__xss=2>"
GUIDELINE = "<script>window.__xss=3</script> Look for **stems**. <img src=x onerror=window.__xss=4>"
REASON = "<script>window.__xss=5</script><img src=x onerror=window.__xss=6>"


@dataclass
class Project:
    pid: int
    images: list[int]
    categories: dict[str, int]  # by name


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": ADMIN, "password": ADMIN_PASSWORD}
        )
        assert token.status_code == 200, token.text
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield client


def make_project(api: httpx.Client, tree: list[tuple[str, str | None, str, str]]) -> Project:
    """A project with three images and the categories (name, parent, key, guideline)."""
    resp = api.post("/api/v1/projects", json={"name": unique("Markup")})
    assert resp.status_code == 201, resp.text
    pid = int(resp.json()["id"])
    files = [("files", (f"img{i}.jpg", corpus.jpeg(seed=300 + i), "image/jpeg")) for i in range(3)]
    upload = api.post(f"/api/v1/projects/{pid}/images", files=files)
    assert upload.status_code == 200, upload.text
    images = sorted(int(i["id"]) for i in upload.json()["imported"])
    categories: dict[str, int] = {}
    for name, parent, key, guideline in tree:
        body = {
            "name": name,
            "parent_id": categories[parent] if parent else None,
            "shortcut": key,
            "description": guideline,
        }
        made = api.post(f"/api/v1/projects/{pid}/categories", json=body)
        assert made.status_code == 201, made.text
        categories[name] = int(made.json()["id"])
    return Project(pid, images, categories)


def no_script_ran(page: Page) -> None:
    # onerror fires once the broken image's request has failed: let the page settle first.
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => window.__xss") is None


def shown(page: Page) -> Locator:
    return page.get_by_role("figure", name="Image to label").get_by_role("img")


def press_on_next_image(page: Page, *keys: str) -> None:
    """Press the keys on the image now shown, then wait for the screen to move on."""
    image = shown(page)
    expect(image).to_be_visible()
    name = image.get_attribute("alt") or ""
    for key in keys:
        page.keyboard.press(key)
    expect(image).not_to_have_attribute("alt", name)


def test_markup_in_names_guidelines_and_reasons_stays_text(page: Page, api: httpx.Client) -> None:
    p = make_project(api, [(PARENT, None, "1", GUIDELINE), (CHILD, PARENT, "2", "")])
    child_path = f"{PARENT}/{CHILD}"
    log_in(page)

    # The labeling screen: choices, search results, the tree's breadcrumb, the guide and
    # the toasts all show the markup as it was typed.
    page.goto(f"/projects/{p.pid}/label")
    choices = page.get_by_role("region", name="Categories")
    expect(choices.get_by_role("button", name=re.compile(re.escape(PARENT)))).to_be_visible()
    expect(shown(page)).to_be_visible()
    page.keyboard.press("/")
    search = page.get_by_role("dialog", name="Find a category")
    page.get_by_label("Search categories").fill("onerror")
    results = search.get_by_role("listbox", name="Matching categories")
    expect(results.get_by_role("option").first).to_contain_text(PARENT)
    expect(results.get_by_role("option").filter(has_text=child_path)).to_have_count(1)
    page.keyboard.press("Tab")  # into the parent's sub-categories
    expect(search).to_be_hidden()
    crumb = page.get_by_role("navigation", name="Tree position")
    expect(crumb.get_by_text(PARENT, exact=True)).to_be_visible()
    expect(choices.get_by_role("button", name=re.compile(re.escape(CHILD)))).to_be_visible()
    page.keyboard.press("g")
    guide = page.get_by_role("complementary", name=re.compile("^Guide"))
    expect(guide.get_by_role("heading", level=2)).to_have_text(f"Guide: {PARENT}")
    expect(guide).to_contain_text("<script>window.__xss=3</script> Look for stems.")
    expect(guide).to_contain_text("<img src=x onerror=window.__xss=4>")
    expect(guide.get_by_role("strong")).to_have_text("stems")  # markdown still works
    page.keyboard.press("g")
    toast = page.get_by_role("status").filter(has_text="U to undo")
    press_on_next_image(page, "Enter")  # the opened parent itself
    expect(toast).to_contain_text(f"labeled {PARENT} · U to undo")
    press_on_next_image(page, "2")
    expect(toast).to_contain_text(f"labeled {child_path} · U to undo")
    expect(shown(page)).to_be_visible()
    page.keyboard.press("r")
    picker = page.get_by_role("dialog", name="Reject: why?")
    picker.get_by_role("button", name=re.compile("other")).press("5")
    picker.get_by_label("Reason").fill(REASON)
    page.keyboard.press("Enter")
    expect(toast).to_contain_text(f"rejected: {REASON} · U to undo")
    no_script_ran(page)

    # The server has what was typed, byte for byte.
    items = {
        i["id"]: i
        for i in api.get(f"/api/v1/projects/{p.pid}/images", params={"status": "rejected"}).json()[
            "items"
        ]
    }
    assert len(items) == 1
    rejected = next(iter(items))
    history = api.get(f"/api/v1/images/{rejected}/annotations").json()
    assert history[-1]["reason"] == REASON

    # The grid: the label buttons and each tile's mark.
    page.goto(f"/projects/{p.pid}/grid?status=all")
    expect(page.get_by_role("button", name=f"Label selection as {child_path}")).to_contain_text(
        child_path
    )
    tiles = page.get_by_role("list", name="Images to select")
    expect(tiles.get_by_text(f"labeled {PARENT}", exact=True)).to_have_count(1)
    expect(tiles.get_by_text(f"labeled {child_path}", exact=True)).to_have_count(1)
    no_script_ran(page)

    # The taxonomy page: the names and the guideline.
    page.goto(f"/projects/{p.pid}/taxonomy")
    tree = page.get_by_role("list", name="Categories")
    expect(tree.get_by_text(PARENT, exact=True).first).to_be_visible()
    expect(tree.get_by_text(CHILD, exact=True).first).to_be_visible()
    expect(tree).to_contain_text("<script>window.__xss=3</script> Look for stems.")
    no_script_ran(page)

    # An image's page: its label and its history, reason included.
    page.goto(f"/images/{rejected}")
    history_table = page.get_by_role("table", name="Label history, oldest first")
    expect(history_table).to_contain_text(REASON)
    expect(page.get_by_role("region", name="Label", exact=True)).to_contain_text(REASON)
    no_script_ran(page)
    labeled = api.get(
        f"/api/v1/projects/{p.pid}/images", params={"category_id": p.categories[CHILD]}
    ).json()["items"]
    page.goto(f"/images/{labeled[0]['id']}")
    expect(page.get_by_role("table", name="Label history, oldest first")).to_contain_text(
        child_path
    )
    no_script_ran(page)


def test_the_tree_by_keyboard_search_tab_enter_and_escape(page: Page, api: httpx.Client) -> None:
    p = make_project(
        api,
        [
            ("glassware", None, "1", ""),
            ("wine glass", "glassware", "2", ""),
            ("beer glass", "glassware", "3", ""),
            ("mug", None, "4", ""),
        ],
    )
    log_in(page)
    page.goto(f"/projects/{p.pid}/label")
    choices = page.get_by_role("region", name="Categories")
    mug = choices.get_by_role("button", name=re.compile("mug"))
    wine = choices.get_by_role("button", name=re.compile("wine glass"))
    crumb = page.get_by_role("navigation", name="Tree position")
    toast = page.get_by_role("status").filter(has_text="U to undo")
    expect(shown(page)).to_be_visible()

    # The help says how.
    page.keyboard.press("?")
    keys = page.get_by_role("dialog", name="Keys")
    expect(keys).to_contain_text("Tab opens its sub-categories")
    page.keyboard.press("Escape")

    # Search, then Tab: the match's sub-categories, and Enter labels the match itself.
    page.keyboard.press("/")
    page.get_by_label("Search categories").fill("glsw")  # fuzzy: g-l-s-w of glassware
    page.keyboard.press("Tab")
    expect(crumb).to_contain_text("glassware")
    expect(wine).to_be_visible()
    expect(mug).to_be_hidden()
    press_on_next_image(page, "Enter")
    expect(toast).to_contain_text("labeled glassware · U to undo")
    expect(mug).to_be_visible()  # back at the top for the next image

    # Tab on a leaf has nothing to open: it says so, and Enter still labels the match.
    page.keyboard.press("/")
    page.get_by_label("Search categories").fill("beer")
    page.keyboard.press("Tab")
    search = page.get_by_role("dialog", name="Find a category")
    expect(search).to_contain_text("glassware/beer glass has no sub-categories: Enter labels it.")
    press_on_next_image(page, "Enter")
    expect(toast).to_contain_text("labeled glassware/beer glass · U to undo")

    # From a focused parent button: Enter opens it and the focus follows into its
    # children; Esc goes back up, the focus onto the parent again.
    parent = choices.get_by_role("button", name=re.compile("glassware"))
    parent.focus()
    page.keyboard.press("Enter")
    expect(wine).to_be_focused()
    expect(mug).to_be_hidden()
    page.keyboard.press("Escape")
    expect(parent).to_be_focused()
    expect(mug).to_be_visible()

    # The screen advances before its write returns: wait for the second label to land.
    expected = sorted([p.categories["glassware"], p.categories["beer glass"]])
    deadline = time.monotonic() + 15
    while True:
        labeled = api.get(f"/api/v1/projects/{p.pid}/images", params={"status": "labeled"}).json()[
            "items"
        ]
        found = sorted(i["category_id"] for i in labeled)
        if found == expected or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert found == expected


def test_a_key_right_after_the_search_closes_reaches_the_screen(
    page: Page, api: httpx.Client
) -> None:
    """Tab closes the search, and Chromium moves the focus out of the closed dialog only at
    its next style update: a G pressed before that still targets the search field. It must
    open the guide all the same (CI once caught the race; here it is forced, both key
    presses in one task, so that no style update can run between them)."""
    p = make_project(
        api, [("glassware", None, "1", "Clear **glass**."), ("mug", "glassware", "2", "")]
    )
    log_in(page)
    page.goto(f"/projects/{p.pid}/label")
    expect(shown(page)).to_be_visible()
    page.keyboard.press("/")
    field = page.get_by_label("Search categories")
    field.fill("glassware")
    expect(
        page.get_by_role("listbox", name="Matching categories").get_by_role("option").first
    ).to_contain_text("glassware")
    page.evaluate(
        """() => {
          const field = document.activeElement;
          const key = (k) =>
            field.dispatchEvent(
              new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true }),
            );
          key("Tab");
          key("g");
        }"""
    )
    expect(page.get_by_role("dialog", name="Find a category")).to_be_hidden()
    guide = page.get_by_role("complementary", name=re.compile("^Guide"))
    expect(guide.get_by_role("heading", level=2)).to_have_text("Guide: glassware")
    expect(guide.get_by_role("strong")).to_have_text("glass")
