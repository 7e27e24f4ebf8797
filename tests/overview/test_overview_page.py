"""The project page opens on the overview; the forms live under its tabs and still work."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.projects.models import Membership, Project
from tests.conftest import ClientFor, UserFactory, csrf_from
from tests.overview.world import World, build


@pytest.fixture
def world(db: Session, api_as: ClientFor, manager: User, labeler: User) -> World:
    return build(db, api_as(manager), api_as(labeler), labeler.username)


def test_the_overview_comes_first_with_every_figure(
    world: World, browser_as: ClientFor, manager: User
) -> None:
    html = browser_as(manager).get(f"/projects/{world.pid}").text
    overview = html.index('data-tab-panel="overview"')
    assert overview < html.index("Drop images") < html.index("Members of Overview")
    assert re.search(r'data-tab-panel="overview">', html)  # shown: not hidden
    assert re.search(r'data-tab-panel="people" hidden', html)
    assert "<strong>25</strong> of 30 labeled (83%)" in html
    assert "25 labeled, 1 rejected, 4 unlabeled" in html  # the bar's text alternative
    assert "done in <strong>~0.2 h</strong>" in html
    # Class balance: parents open, each row's count, F1 and flag.
    assert re.search(r'<details open data-category="\d+">\s*<summary class="ov-row">', html)
    assert "F1 </span>0.95" in html
    assert "F1 </span>0.60" in html
    assert html.count(", needs labels</span>") == 2  # rose (2 labels) and oak (F1 0.6)
    # Labels per day, the curve, the model and the queue in one wording.
    assert f"{manager.username}: 12 on" in html
    assert f"Run #{world.newest_run}: 24 labels, accuracy 0.900" in html
    assert "(+0.100)" in html
    assert f"Changes against run #{world.older_run}." in html
    assert f"default (typiclust) · run #{world.newest_run}" in html
    # Quality counts, each a link to its queue.
    pid = world.pid
    assert f'href="/projects/{pid}/label?mode=label_issues"><strong>2</strong> label issues' in html
    assert f'href="/projects/{pid}/label?mode=odd_pictures"><strong>1</strong> odd picture<' in html
    assert f'href="/projects/{pid}/label?mode=disagreements"><strong>1</strong> open' in html
    assert f'href="/projects/{pid}/duplicates"><strong>2</strong> near-duplicate groups' in html


def test_a_labeler_sees_the_overview_without_manager_tabs(
    world: World, browser_as: ClientFor, labeler: User
) -> None:
    html = browser_as(labeler).get(f"/projects/{world.pid}").text
    assert "<strong>25</strong> of 30 labeled" in html
    assert "?tab=settings" not in html
    assert "?tab=export" not in html
    assert "label?mode=disagreements" not in html  # a manager settles them
    assert "(a manager settles them)" in html
    # A manager's tab asked for by a labeler falls back to the overview.
    html = browser_as(labeler).get(f"/projects/{world.pid}?tab=settings").text
    assert re.search(r'data-tab-panel="overview">', html)


@pytest.mark.parametrize(
    ("tab", "marker"),
    [
        ("images", "Drop images"),
        ("people", "Members of"),
        ("settings", "Archive project"),
        ("export", "export-format"),
        ("training", "training/_section"),
    ],
)
def test_each_tab_opens_by_its_address(
    world: World, browser_as: ClientFor, manager: User, tab: str, marker: str
) -> None:
    html = browser_as(manager).get(f"/projects/{world.pid}?tab={tab}").text
    assert re.search(f'data-tab-panel="{tab}">', html)
    assert re.search(r'data-tab-panel="overview" hidden', html)
    assert f'href="/projects/{world.pid}?tab={tab}" data-tab="{tab}" aria-current="page"' in html
    start = html.index(f'data-tab-panel="{tab}"')
    assert marker in html[start:]


@pytest.mark.parametrize("tab", ["nonsense", "<script>", "x" * 20])
def test_unknown_tabs_show_the_overview(
    world: World, browser_as: ClientFor, manager: User, tab: str
) -> None:
    resp = browser_as(manager).get(f"/projects/{world.pid}", params={"tab": tab})
    assert resp.status_code == 200
    assert re.search(r'data-tab-panel="overview">', resp.text)
    assert "<script>" not in resp.text.split("<main", 1)[1].split("</main>")[0].replace(
        '<script src="/static/js/upload.js" defer></script>', ""
    ).replace('<script src="/static/js/tabs.js" defer></script>', "")


def test_an_oversized_tab_is_refused(world: World, browser_as: ClientFor, manager: User) -> None:
    resp = browser_as(manager).get(f"/projects/{world.pid}", params={"tab": "x" * 5000})
    assert resp.status_code == 400  # pages answer a malformed query with 400


def test_the_tab_forms_still_work_and_come_back_to_their_tab(
    world: World, browser_as: ClientFor, manager: User, make_user: UserFactory, db: Session
) -> None:
    page = browser_as(manager)
    make_user(Role.labeler, "newcomer")
    token = csrf_from(page, f"/projects/{world.pid}")
    resp = page.post(
        f"/projects/{world.pid}/members",
        data={"username": "newcomer", "role": "labeler", "csrf_token": token},
    )
    assert resp.status_code == 303
    assert resp.headers["location"] == f"/projects/{world.pid}?tab=people"
    assert "newcomer" in page.get(resp.headers["location"]).text
    assert db.scalar(select(Membership).join(User).where(User.username == "newcomer"))
    # A refused form shows its error with its own tab open.
    resp = page.post(
        f"/projects/{world.pid}/members",
        data={"username": "nobody-here", "role": "labeler", "csrf_token": token},
    )
    assert resp.status_code == 404
    assert re.search(r'data-tab-panel="people">', resp.text)
    resp = page.post(
        f"/projects/{world.pid}", data={"name": "Renamed", "description": "", "csrf_token": token}
    )
    assert resp.headers["location"] == f"/projects/{world.pid}?tab=settings"
    db.expire_all()
    assert db.get(Project, world.pid).name == "Renamed"  # type: ignore[union-attr]


def test_outsiders_get_404_on_the_page(
    world: World, browser_as: ClientFor, make_user: UserFactory
) -> None:
    stranger = browser_as(make_user(Role.manager, "stranger"))
    resp = stranger.get(f"/projects/{world.pid}")
    assert resp.status_code == 404
    assert "Overview" not in resp.text


def test_an_empty_project_tells_the_next_step(
    browser_as: ClientFor, manager: User, api_as: ClientFor
) -> None:
    pid = api_as(manager).post("/api/v1/projects", json={"name": "Blank"}).json()["id"]
    html = browser_as(manager).get(f"/projects/{pid}").text
    assert "No images yet" in html
    assert "No categories yet" in html
    assert "No model yet" in html
    assert "train a model to start the curve" in html
    assert "Nobody labeled in the last two weeks: " in html
    assert "not ranked yet" in html
