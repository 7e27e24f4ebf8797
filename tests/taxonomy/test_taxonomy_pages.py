"""The taxonomy page, used through plain HTML forms."""

from __future__ import annotations

from html import unescape

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.taxonomy.models import Category
from tests.conftest import ClientFor, UserFactory, csrf_from


def post_form(web: TestClient, url: str, **data: str) -> Response:
    return web.post(url, data={"csrf_token": csrf_from(web, "/projects"), **data})


def categories(db: Session) -> dict[str, Category]:
    db.expire_all()
    return {c.name: c for c in db.scalars(select(Category))}


def snapshot(db: Session) -> list[tuple[object, ...]]:
    return sorted(
        (c.id, c.name, c.parent_id, c.shortcut, c.color, c.description, c.position)
        for c in categories(db).values()
    )


@pytest.fixture
def pid(api_as: ClientFor, admin: User) -> int:
    return int(api_as(admin).post("/api/v1/projects", json={"name": "Glassware"}).json()["id"])


@pytest.fixture
def web(browser_as: ClientFor, admin: User) -> TestClient:
    return browser_as(admin)


def add(web: TestClient, pid: int, name: str, parent: Category | None = None, **extra: str) -> None:
    parent_id = str(parent.id) if parent else ""
    resp = post_form(web, f"/projects/{pid}/taxonomy", name=name, parent_id=parent_id, **extra)
    assert resp.status_code == 303, resp.text
    assert resp.headers["location"] == f"/projects/{pid}/taxonomy"


def edit(web: TestClient, pid: int, category: Category, **changes: str) -> Response:
    """Send the edit form as a browser would: every field, as shown, with some changed."""
    form = {
        "name": category.name,
        "parent_id": str(category.parent_id or ""),
        "shortcut": category.shortcut or "",
        "color": category.color,
        "description": category.description,
        "position": "",  # empty unless reordering
        **changes,
    }
    return post_form(web, f"/projects/{pid}/taxonomy/{category.id}", **form)


def test_create_edit_move_and_delete_through_forms(web: TestClient, pid: int, db: Session) -> None:
    empty = web.get(f"/projects/{pid}/taxonomy").text
    assert "No categories yet: add the first one below." in empty
    assert f'href="/projects/{pid}/taxonomy"' in web.get(f"/projects/{pid}").text
    add(web, pid, "glass", color="#112233", description="Anything **made of glass**\r\nor so")
    assert "Added glass (key 1)." in web.get(f"/projects/{pid}/taxonomy").text
    glass = categories(db)["glass"]
    assert (glass.color, glass.shortcut) == ("#112233", "1")
    assert glass.description == "Anything **made of glass**\nor so"
    add(web, pid, "wine glass", glass, shortcut="W")
    add(web, pid, "beer glass", glass)
    html = web.get(f"/projects/{pid}/taxonomy").text
    assert "Added glass/beer glass (key 2)." in html
    assert "<kbd>w</kbd>" in html
    assert "<strong>made of glass</strong>" in html
    wine_id = categories(db)["wine glass"].id
    assert f'<option value="{wine_id}">glass/wine glass</option>' in html

    beer = categories(db)["beer glass"]
    resp = edit(web, pid, beer, name="beer mug", shortcut="", color="", description="Handles")
    assert resp.status_code == 303, resp.text
    mug = categories(db)["beer mug"]
    assert (mug.parent_id, mug.shortcut, mug.color, mug.description) == (
        glass.id,
        None,  # an empty shortcut field means no shortcut
        beer.color,  # an empty color field leaves the color alone
        "Handles",
    )

    # Moving to the top level ("" parent) puts it last there; then first among the roots.
    assert edit(web, pid, categories(db)["wine glass"], parent_id="").status_code == 303
    wine = categories(db)["wine glass"]
    assert wine.parent_id is None
    assert wine.position > glass.position
    assert edit(web, pid, wine, position="0").status_code == 303
    found = categories(db)
    assert (found["wine glass"].position, found["glass"].position) == (0, 1)
    html = web.get(f"/projects/{pid}/taxonomy").text
    assert html.index("<strong>wine glass</strong>") < html.index("<strong>glass</strong>")

    # And back under glass, above beer mug.
    back = edit(web, pid, found["wine glass"], parent_id=str(glass.id), position="0")
    assert back.status_code == 303
    found = categories(db)
    assert found["wine glass"].parent_id == glass.id
    assert (found["wine glass"].position, found["beer mug"].position) == (0, 1)

    resp = post_form(web, f"/projects/{pid}/taxonomy/{mug.id}/delete")
    assert resp.status_code == 303
    assert "Deleted beer mug." in web.get(f"/projects/{pid}/taxonomy").text
    assert sorted(categories(db)) == ["glass", "wine glass"]


def test_form_errors_are_shown_and_change_nothing(web: TestClient, pid: int, db: Session) -> None:
    add(web, pid, "glass")
    glass = categories(db)["glass"]
    add(web, pid, "wine glass", glass, shortcut="w")
    add(web, pid, "mug")
    wine, mug = categories(db)["wine glass"], categories(db)["mug"]
    before = snapshot(db)

    dup = post_form(
        web, f"/projects/{pid}/taxonomy", name="GLASS", parent_id="", description="kept text"
    )
    assert dup.status_code == 409
    assert "already exists at the top level" in dup.text
    assert "kept text" in dup.text  # the add form keeps what was typed
    clash = edit(web, pid, mug, name="Glass")
    assert clash.status_code == 409
    assert "already exists" in clash.text
    moved_into_clash = edit(web, pid, wine, parent_id="", name="MUG")
    assert moved_into_clash.status_code == 409

    cycle = edit(web, pid, glass, parent_id=str(wine.id))
    assert cycle.status_code == 409
    assert "inside itself" in cycle.text
    assert edit(web, pid, glass, parent_id=str(glass.id)).status_code == 409

    for bad in ("a/b", "   ", "n" * 101, "..", "tab\there"):
        resp = post_form(web, f"/projects/{pid}/taxonomy", name=bad)
        assert resp.status_code == 400, bad
        assert 'role="alert"' in resp.text
        assert "Name: " in resp.text
        assert edit(web, pid, glass, name=bad).status_code == 400, bad
    assert edit(web, pid, glass, position="-1").status_code == 400
    assert edit(web, pid, glass, color="red").status_code == 400
    assert edit(web, pid, glass, parent_id="nine").status_code == 400

    taken = edit(web, pid, mug, shortcut="W")
    assert taken.status_code == 409
    assert "already used by 'wine glass'" in unescape(taken.text)
    assert 'value="W"' in taken.text  # the edit form shows what was sent...
    assert '<details class="edit" open>' in taken.text  # ...and is open
    taken_on_create = post_form(web, f"/projects/{pid}/taxonomy", name="cup", shortcut="w")
    assert taken_on_create.status_code == 409
    reserved = post_form(web, f"/projects/{pid}/taxonomy", name="cup", shortcut="r")
    assert reserved.status_code == 422
    assert "not available" in reserved.text

    elsewhere = post_form(web, f"/projects/{pid}/taxonomy", name="cup", parent_id="999")
    assert elsewhere.status_code == 422
    has_children = post_form(web, f"/projects/{pid}/taxonomy/{glass.id}/delete")
    assert has_children.status_code == 409
    assert "move or delete them first" in has_children.text
    assert snapshot(db) == before


def test_a_labeler_sees_the_tree_but_no_forms_and_cannot_post(
    web: TestClient, pid: int, db: Session, browser_as: ClientFor, labeler: User
) -> None:
    assert post_form(web, f"/projects/{pid}/members", username="lena").status_code == 303
    lena = browser_as(labeler)
    assert "No categories yet.</p>" in lena.get(f"/projects/{pid}/taxonomy").text
    add(web, pid, "glass", description="Clear *and* shiny")
    glass = categories(db)["glass"]
    before = snapshot(db)

    html = lena.get(f"/projects/{pid}/taxonomy").text
    assert "<strong>glass</strong>" in html
    assert "<em>and</em>" in html
    assert "<form" not in html.split("<main", 1)[1]
    for url, form in (
        (f"/projects/{pid}/taxonomy", {"name": "sneaky"}),
        (f"/projects/{pid}/taxonomy/{glass.id}", {"name": "renamed", "parent_id": ""}),
        (f"/projects/{pid}/taxonomy/{glass.id}/delete", {}),
    ):
        resp = post_form(lena, url, **form)
        assert resp.status_code == 403, url
        assert "Not allowed" in resp.text
    assert snapshot(db) == before


def test_outsiders_and_other_projects_categories_get_404(
    web: TestClient,
    pid: int,
    db: Session,
    api_as: ClientFor,
    admin: User,
    browser_as: ClientFor,
    make_user: UserFactory,
) -> None:
    add(web, pid, "glass")
    glass = categories(db)["glass"]
    other = api_as(admin).post("/api/v1/projects", json={"name": "Other"}).json()["id"]
    before = snapshot(db)
    # The right project with someone else's category: 404, not a change.
    assert edit(web, other, glass, name="stolen").status_code == 404
    assert post_form(web, f"/projects/{other}/taxonomy/{glass.id}/delete").status_code == 404
    assert post_form(web, f"/projects/{pid}/taxonomy/999/delete").status_code == 404

    outsider = browser_as(make_user())
    assert outsider.get(f"/projects/{pid}/taxonomy").status_code == 404
    assert "glass" not in outsider.get(f"/projects/{pid}/taxonomy").text
    assert post_form(outsider, f"/projects/{pid}/taxonomy", name="x").status_code == 404
    assert edit(outsider, pid, glass, name="x").status_code == 404
    assert post_form(outsider, f"/projects/{pid}/taxonomy/{glass.id}/delete").status_code == 404
    assert snapshot(db) == before


def test_an_archived_project_shows_its_tree_without_forms(
    web: TestClient, pid: int, db: Session
) -> None:
    add(web, pid, "glass")
    post_form(web, f"/projects/{pid}/archive", archived="1")
    html = web.get(f"/projects/{pid}/taxonomy").text
    assert "<strong>glass</strong>" in html
    assert "restore it to change its taxonomy" in html
    assert "Add category" not in html
    resp = post_form(web, f"/projects/{pid}/taxonomy", name="late")
    assert resp.status_code == 409
    assert sorted(categories(db)) == ["glass"]


def test_markup_in_names_and_descriptions_is_shown_as_text(
    web: TestClient, pid: int, db: Session
) -> None:
    name = "<img src=x onerror=alert(1)>"
    add(web, pid, name, description="<script>alert(2)</script> **bold** [x](javascript:alert(3))")
    html = web.get(f"/projects/{pid}/taxonomy").text
    assert "<script>alert(2)" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "<strong>bold</strong>" in html
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="javascript:' not in html
    # Re-rendered after an error, the typed text is escaped too.
    resp = post_form(web, f"/projects/{pid}/taxonomy", name=name, description="<script>x()")
    assert resp.status_code == 409
    assert "<script>x()" not in resp.text
    assert "&lt;script&gt;x()" in resp.text
