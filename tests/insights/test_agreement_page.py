"""The agreement card (loaded into the project page by htmx) and page: managers see the
figures read in plain words, the tables, and the confused pairs linked to their images;
labelers do not see it."""

from __future__ import annotations

import re
from html import unescape

from app.auth.models import User
from tests.conftest import ClientFor, UserFactory
from tests.insights.agreement_helpers import make_six
from tests.labeling.helpers import label, next_image
from tests.labeling.overlap_helpers import crew


def _card(page: str) -> str:
    found = re.search(r'<section class="card" id="agreement".*?</section>', page, re.S)
    assert found, "no agreement card on the page"
    return found.group(0)


def _cells(html: str) -> list[list[str]]:
    """Each table row's cells as text, tags stripped."""
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    return [
        [re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", cell))).strip() for cell in cells]
        for cells in (re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S) for r in rows)
    ]


def test_managers_see_the_figures_tables_and_confused_pairs(
    api_as: ClientFor, browser_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    six = make_six(api_as, admin, make_user)
    c, pid = six.c, six.c.s.pid
    wine = c.s.categories["wine"]
    browser = browser_as(c.boss)
    project_page = browser.get(f"/projects/{pid}").text
    assert f'hx-get="/projects/{pid}/agreement/_card"' in project_page
    assert f'href="/projects/{pid}/agreement"' in project_page  # without htmx
    card = _card(browser.get(f"/projects/{pid}/agreement/_card").text)
    assert card in browser.get(f"/projects/{pid}/agreement").text
    assert "Over <strong>6</strong> images labeled by two people." in card
    assert "Fewer than 30 images" in card
    # 17/41 and 19/41, hand-computed in test_agreement_api.
    assert re.search(r"data-kappa>0\.41: moderate agreement<", card), card
    assert re.search(r"data-alpha>0\.46: not reliable", card)
    rows = _cells(card)
    assert [c.first.username, "6", "80% of 5"] in rows
    assert [c.second.username, "6", "100% of 5"] in rows
    first, second = sorted([c.first, c.second], key=lambda u: u.id)
    assert [f"{first.username} and {second.username}", "6", "67%", "0.45"] in rows
    assert ["wine", "6", "67%", "0.33", "0.39"] in rows
    assert any(r[:3] == ["rejected", "1", "0%"] for r in rows)

    confused = re.search(r"<table data-confusions>.*?</table>", card, re.S)
    assert confused
    links = re.findall(r'href="([^"]+)"', confused.group(0))
    assert f"/images/{six.images['settled']}" in links
    assert f"/images/{six.images['disputed']}" in links
    assert f"/projects/{pid}/images?category={wine}" in links
    assert f"/projects/{pid}/images?status=rejected" in links
    for url in links:  # every link leads somewhere the manager may go
        assert browser.get(url).status_code == 200, url
    assert (
        f'href="/projects/{pid}/label?mode=disagreements">Settle the 1 open disagreement<' in card
    )


def test_labelers_do_not_see_the_card(
    api_as: ClientFor, browser_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    six = make_six(api_as, admin, make_user)
    pid = six.c.s.pid
    labeler = browser_as(six.c.first)
    page = labeler.get(f"/projects/{pid}").text
    assert 'id="agreement"' not in page
    assert "Agreement between annotators" not in page
    for url in (f"/projects/{pid}/agreement", f"/projects/{pid}/agreement/_card"):
        assert labeler.get(url).status_code == 403
        assert browser_as(make_user()).get(url).status_code == 404  # an outsider


def test_the_card_waits_for_second_opinions_and_is_absent_without_overlap(
    api_as: ClientFor, browser_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    c = crew(api_as, admin, make_user, images=2)
    image = next_image(c.first_api, c.s.pid)
    assert image is not None
    label(c.first_api, image, c.s.categories["wine"])
    browser = browser_as(c.boss)
    assert "/agreement/_card" in browser.get(f"/projects/{c.s.pid}").text
    card = _card(browser.get(f"/projects/{c.s.pid}/agreement/_card").text)
    assert "No image has two opinions yet" in card
    assert "data-kappa" not in card
    assert c.admin.patch(f"/api/v1/projects/{c.s.pid}", json={"overlap_percent": 0}).is_success
    assert 'id="agreement"' not in browser.get(f"/projects/{c.s.pid}").text
    page = browser.get(f"/projects/{c.s.pid}/agreement")
    assert page.status_code == 200
    assert "Second labels are off" in _card(page.text)
