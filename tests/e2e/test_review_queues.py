"""The "Label issues" and "Odd pictures" review queues, driven from the keyboard in real
Chromium against the real server and worker; each check reads back what the server
stored through the API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, Playwright, Response, expect

from tests.e2e.flows import log_in
from tests.e2e.review_world import (
    World,
    build,
    guideline,
    open_queue,
    stored,
    token_api,
)
from tests.e2e.test_label_suggestion import _ok

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def world(playwright: Playwright, base_url: str) -> Iterator[World]:
    api = token_api(playwright, base_url)
    try:
        yield build(api)
    finally:
        api.dispose()


def history_length(page: Page, image_id: int) -> int:
    return len(_ok(page.request.get(f"/api/v1/images/{image_id}/annotations")))


def dismissal(response: Response, method: str) -> bool:
    return "/dismissals" in response.url and response.request.method == method


def test_label_issues_keep_relabel_and_reject_from_the_keyboard(page: Page, world: World) -> None:
    w = world
    log_in(page)
    screen = open_queue(page, w, "label_issues")
    panel = page.get_by_role("complementary", name="Label issue")
    decided: list[int] = []

    # The first: the panel names both labels with their guidelines; A keeps the label.
    item = screen.shown(w)
    review: dict[str, Any] = item["review"]
    given, suggested = review["given_category_id"], review["suggested_category_id"]
    expect(panel.get_by_role("heading", name=re.compile("^Given label"))).to_have_text(
        f"Given label: {w.name_of(given)}"
    )
    expect(panel.get_by_role("heading", name=re.compile("^Suggested"))).to_have_text(
        f"Suggested: {w.name_of(suggested)}"
    )
    given_guide = panel.get_by_role("region", name=re.compile("^Given label"))
    expect(given_guide).to_contain_text(guideline(w.name_of(given)).replace("**", ""))
    suggested_guide = panel.get_by_role("region", name=re.compile("^Suggested"))
    expect(suggested_guide).to_contain_text(guideline(w.name_of(suggested)).replace("**", ""))
    expect(panel).to_contain_text(f"Score {review['score']:.2f}")
    before = history_length(page, item["image_id"])
    page.keyboard.press("a")
    kept = stored(page, item["image_id"], before + 1)
    assert (kept["source"], kept["category_id"], kept["rejected"]) == ("review", given, False)
    decided.append(item["image_id"])

    # The second: Enter takes the issue's suggestion.
    item = screen.next_one(w, decided[-1])
    before = history_length(page, item["image_id"])
    page.keyboard.press("Enter")
    took = stored(page, item["image_id"], before + 1)
    assert took["source"] == "review"
    assert took["category_id"] == item["review"]["suggested_category_id"]
    decided.append(item["image_id"])

    # The third: another category's key relabels it.
    item = screen.next_one(w, decided[-1])
    doubted = {item["review"]["given_category_id"], item["review"]["suggested_category_id"]}
    other = next(n for n, i in w.ids.items() if i not in doubted)
    before = history_length(page, item["image_id"])
    page.keyboard.press(w.keys[other])
    relabeled = stored(page, item["image_id"], before + 1)
    assert (relabeled["source"], relabeled["category_id"]) == ("review", w.ids[other])
    decided.append(item["image_id"])

    # The fourth: R, then a reason's key, rejects.
    item = screen.next_one(w, decided[-1])
    before = history_length(page, item["image_id"])
    page.keyboard.press("r")
    page.keyboard.press("2")
    rejected = stored(page, item["image_id"], before + 1)
    assert (rejected["source"], rejected["rejected"], rejected["reason"]) == (
        "review",
        True,
        "ambiguous",
    )
    decided.append(item["image_id"])
    expect(page.get_by_label("Session counter")).to_contain_text("4 done")

    # None of them is asked again.
    again = open_queue(page, w, "label_issues")
    expect(again.image()).to_be_visible()
    served = [i["image_id"] for i in again.items()]
    assert served, "the queue served nothing after the reload"
    assert not set(served) & set(decided), (served, decided)


def test_odd_pictures_out_of_scope_keep_undo_and_label_from_the_keyboard(
    page: Page, world: World
) -> None:
    w = world
    log_in(page)
    screen = open_queue(page, w, "odd_pictures")
    panel = page.get_by_role("complementary", name="Odd picture")

    # Delete rejects the most atypical picture as out of scope.
    first = screen.shown(w)
    expect(panel).to_contain_text(f"Score {first['review']['score']:.2f}")
    before = history_length(page, first["image_id"])
    page.keyboard.press("Delete")
    out = stored(page, first["image_id"], before + 1)
    assert (out["source"], out["rejected"], out["reason"]) == ("review", True, "out of scope")

    # A keeps the next one; U takes the keep back; a category's key labels it instead.
    second = screen.next_one(w, first["image_id"])
    before = history_length(page, second["image_id"])
    with page.expect_response(lambda r: dismissal(r, "POST")) as kept:
        page.keyboard.press("a")
    assert kept.value.status == 201, kept.value.text()
    with page.expect_response(lambda r: dismissal(r, "DELETE")) as taken_back:
        page.keyboard.press("u")
    assert taken_back.value.status == 204
    expect(screen.image()).to_have_attribute("alt", w.filenames[second["image_id"]])
    name = next(iter(w.ids))
    page.keyboard.press(w.keys[name])
    labeled = stored(page, second["image_id"], before + 1)
    assert (labeled["source"], labeled["category_id"]) == ("review", w.ids[name])

    # A keeps the third, for good: a keep is not an annotation.
    third = screen.next_one(w, second["image_id"])
    before = history_length(page, third["image_id"])
    with page.expect_response(lambda r: dismissal(r, "POST")) as kept:
        page.keyboard.press("a")
    assert kept.value.status == 201, kept.value.text()
    assert kept.value.json()["image_id"] == third["image_id"]
    expect(page.get_by_label("Session counter")).to_contain_text("3 done")
    assert history_length(page, third["image_id"]) == before

    decided = {first["image_id"], second["image_id"], third["image_id"]}
    again = open_queue(page, w, "odd_pictures")
    expect(again.image()).to_be_visible()
    served = {i["image_id"] for i in again.items()}
    assert served, "the queue served nothing after the reload"
    assert not served & decided, (served, decided)
