"""The labeling screen and the grid as pages: who may see them, and what they carry."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.images.models import Image
from app.labeling import service as labeling
from app.taxonomy.models import Category
from tests.conftest import ClientFor, UserFactory
from tests.images import corpus

HOSTILE = "</script><script>alert(1)</script>"


def settings_of(html: str, script_id: str = "label-settings") -> dict[str, object]:
    match = re.search(
        rf'<script type="application/json" id="{script_id}">(.*?)</script>', html, re.S
    )
    assert match is not None, html
    data: dict[str, object] = json.loads(match.group(1))
    return data


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


@pytest.fixture
def web(browser_as: ClientFor, admin: User) -> TestClient:
    return browser_as(admin)


@pytest.fixture
def pid(api: TestClient) -> int:
    resp = api.post("/api/v1/projects", json={"name": "Glassware"})
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


def add_category(
    api: TestClient, pid: int, name: str, parent: int | None = None, **extra: str
) -> int:
    body: dict[str, object] = {"name": name, "parent_id": parent, **extra}
    resp = api.post(f"/api/v1/projects/{pid}/categories", json=body)
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


def upload(api: TestClient, pid: int, count: int) -> list[int]:
    parts = [("files", (f"img{i}.jpg", corpus.jpeg(seed=i), "image/jpeg")) for i in range(count)]
    resp = api.post(f"/api/v1/projects/{pid}/images", files=parts)
    assert resp.status_code == 200, resp.text
    return sorted(i["id"] for i in resp.json()["imported"])


def test_the_labeling_screen_carries_the_tree_and_the_queue_settings(
    api: TestClient, web: TestClient, pid: int
) -> None:
    glass = add_category(api, pid, "glass", description="Anything **made of glass**.")
    wine = add_category(api, pid, "wine glass", glass, shortcut="w")
    resp = web.get(f"/projects/{pid}/label?strategy=random&mode=review&category_id={glass}")
    assert resp.status_code == 200, resp.text
    html = resp.text
    settings = settings_of(html)
    assert settings["project_id"] == pid
    assert (settings["strategy"], settings["mode"], settings["category_id"]) == (
        "random",
        "review",
        glass,
    )
    cats = {c["id"]: c for c in settings["categories"]}  # type: ignore[attr-defined]
    assert cats[wine]["path"] == "glass/wine glass"
    assert cats[wine]["shortcut"] == "w"
    assert cats[glass]["has_children"] is True
    assert cats[wine]["has_children"] is False
    assert "<kbd>w</kbd>" in html
    assert "<strong>made of glass</strong>" in html  # the guideline, rendered
    assert "review · random" in html
    assert '<script src="/static/js/label.js" defer></script>' in html


def test_defaults_and_bad_queue_parameters(api: TestClient, web: TestClient, pid: int) -> None:
    settings = settings_of(web.get(f"/projects/{pid}/label").text)
    assert (settings["strategy"], settings["mode"], settings["category_id"]) == (
        "active",
        "label",
        None,
    )
    assert settings["categories"] == []
    bad = web.get(f"/projects/{pid}/label?strategy=fastest")
    assert bad.status_code == 400
    assert "Strategy" in unescape(bad.text)
    assert web.get(f"/projects/{pid}/label?mode=everything").status_code == 400
    assert web.get(f"/projects/{pid}/grid?status=maybe").status_code == 400
    assert web.get(f"/projects/{pid}/label?category_id=424242").status_code == 404
    assert web.get(f"/projects/{pid}/grid?category_id=424242").status_code == 404


def test_markup_in_names_and_descriptions_stays_text(
    api: TestClient, web: TestClient, pid: int, db: Session
) -> None:
    cid = add_category(api, pid, "x", description="<script>alert(2)</script> and **bold** <i>x</i>")
    # The API refuses "/" in names; the pages must hold even if one got in some other way.
    db.get_one(Category, cid).name = HOSTILE
    db.commit()
    for path, script_id in (
        (f"/projects/{pid}/label", "label-settings"),
        (f"/projects/{pid}/grid", "grid-settings"),
    ):
        html = web.get(path).text
        # The JSON block cannot be closed early: "<" is escaped inside it.
        assert html.count("<script>") == 0
        assert "alert(1)</script>" not in html
        settings = settings_of(html, script_id)
        names = [c["name"] for c in settings["categories"]]  # type: ignore[attr-defined]
        assert names == [HOSTILE]
        assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    label = web.get(f"/projects/{pid}/label").text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in label  # the guideline's raw HTML
    assert "<strong>bold</strong>" in label
    assert "<i>x</i>" not in label


def test_the_grid_shows_a_page_of_toggles_with_their_marks(
    api: TestClient, web: TestClient, pid: int, db: Session, admin: User
) -> None:
    glass = add_category(api, pid, "glass")
    ids = upload(api, pid, 3)
    image = db.get_one(Image, ids[0])
    labeling.annotate(db, image, admin.id, category_id=glass)
    db.commit()
    unlabeled = web.get(f"/projects/{pid}/grid").text
    assert unlabeled.count('aria-pressed="false"') == 2
    assert f'data-image-id="{ids[0]}"' not in unlabeled
    assert 'aria-label="Label selection as glass"' in unlabeled
    everything = web.get(f"/projects/{pid}/grid?status=all").text
    assert everything.count('aria-pressed="false"') == 3
    assert "labeled glass" in everything  # the tile's mark
    by_category = web.get(f"/projects/{pid}/grid?status=labeled&category_id={glass}").text
    assert by_category.count('aria-pressed="false"') == 1
    assert web.get(f"/projects/{pid}/grid?page=9").status_code == 200


def test_members_see_the_screens_outsiders_get_404_and_anonymous_go_to_login(
    app: object, browser_as: ClientFor, make_user: UserFactory, api: TestClient, pid: int
) -> None:
    lena = make_user(Role.labeler, "lena")
    olga = make_user(Role.labeler, "olga")
    resp = api.post(f"/api/v1/projects/{pid}/members", json={"username": "lena", "role": "labeler"})
    assert resp.status_code in (200, 201), resp.text
    member = browser_as(lena)
    outsider = browser_as(olga)
    for path in (f"/projects/{pid}/label", f"/projects/{pid}/grid"):
        assert member.get(path).status_code == 200
        assert outsider.get(path).status_code == 404
        anonymous = TestClient(app, follow_redirects=False)  # type: ignore[arg-type]
        resp = anonymous.get(path)
        assert resp.status_code == 303
        assert resp.headers["location"].startswith("/login")
    assert outsider.get("/projects/424242/label").status_code == 404


def test_the_project_page_links_lead_to_the_label_and_grid_screens(
    web: TestClient, pid: int
) -> None:
    links = web.get(f"/projects/{pid}/images/_links").text
    assert f'href="/projects/{pid}/label"' in links
    assert f'href="/projects/{pid}/grid"' in links


def test_only_managers_are_offered_the_disagreements_queue(
    api: TestClient, web: TestClient, pid: int, browser_as: ClientFor, make_user: UserFactory
) -> None:
    page = web.get(f"/projects/{pid}/label?mode=disagreements")
    assert page.status_code == 200, page.text
    assert settings_of(page.text)["mode"] == "disagreements"
    assert '<option value="disagreements" selected>' in page.text
    lena = make_user(Role.labeler, "lena")
    resp = api.post(f"/api/v1/projects/{pid}/members", json={"username": "lena", "role": "labeler"})
    assert resp.status_code == 201
    labeler = browser_as(lena)
    assert labeler.get(f"/projects/{pid}/label?mode=disagreements").status_code == 400
    assert 'value="disagreements"' not in labeler.get(f"/projects/{pid}/label").text
