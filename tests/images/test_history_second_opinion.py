"""The image page with an overlap's second opinion: the history says which row it is, and
the current label (with its rejection reason) is the first label's."""

from __future__ import annotations

import re

from app.auth.models import User
from tests.conftest import ClientFor, UserFactory
from tests.labeling.helpers import label
from tests.labeling.overlap_helpers import crew, disagree, wine_then_beer


def history_rows(html: str) -> list[str]:
    table = html.split('id="history-heading"', 1)[1].split("<tbody>", 1)[1]
    return re.findall(r"<tr>.*?</tr>", table.split("</tbody>", 1)[0], re.S)


def test_the_history_marks_the_second_opinion_and_no_other_row(
    api_as: ClientFor, browser_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    c = crew(api_as, admin, make_user)
    image, _ = wine_then_beer(c)
    page = browser_as(admin)
    html = page.get(f"/images/{image}").text
    assert "<strong>wine</strong>" in html.split("Label history", 1)[0]  # the first label
    rows = history_rows(html)
    assert ["second opinion" in row for row in rows] == [False, True]
    assert "beer" in rows[1]

    label(api_as(c.boss), image, c.s.categories["beer"])  # the manager settles it
    rows = history_rows(page.get(f"/images/{image}").text)
    assert ["second opinion" in row for row in rows] == [False, True, False]


def test_a_rejection_keeps_its_reason_after_a_disagreeing_second_opinion(
    api_as: ClientFor, browser_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    c = crew(api_as, admin, make_user)
    wine = c.s.categories["wine"]
    image, _ = disagree(c, {"rejected": True, "reason": "blurry"}, {"category_id": wine})
    html = browser_as(admin).get(f"/images/{image}").text
    assert "rejected: blurry" in html.split("Label history", 1)[0]
