"""The project page offers the disagreements queue to those who settle disputes, with how
many wait; labelers are not offered it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.auth.models import User
from app.labeling import overlap
from tests.conftest import ClientFor, UserFactory
from tests.labeling.helpers import label
from tests.labeling.overlap_helpers import crew, disagree, wine_then_beer


def test_managers_see_how_many_disagreements_wait_and_labelers_do_not(
    api_as: ClientFor, browser_as: ClientFor, admin: User, make_user: UserFactory, db: Session
) -> None:
    c = crew(api_as, admin, make_user, images=3)
    url = f"/projects/{c.s.pid}"
    link = f'<a href="/projects/{c.s.pid}/label?mode=disagreements">Disagreements'
    boss = browser_as(c.boss)
    assert overlap.open_disputes(db, c.s.pid) == 0
    assert "mode=disagreements" not in boss.get(url).text  # nothing waits: no link

    first, _ = wine_then_beer(c)
    wine_then_beer(c)
    wine = c.s.categories["wine"]
    disagree(c, {"category_id": wine}, {"category_id": wine})  # agreed: nothing to settle
    assert overlap.open_disputes(db, c.s.pid) == 2
    for page in (boss, browser_as(admin)):
        assert f'{link} <span class="count">2<' in page.get(url).text
    for user in (c.first, c.second):
        html = browser_as(user).get(url).text
        assert "mode=disagreements" not in html
        assert "Disagreements" not in html

    label(api_as(c.boss), first, c.s.categories["beer"])  # settled
    assert overlap.open_disputes(db, c.s.pid) == 1
    assert f'{link} <span class="count">1<' in boss.get(url).text
