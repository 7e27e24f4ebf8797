"""The taxonomy page's label forms (merge, delete with labels, examples) and the pin form."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from app.auth.models import User
from app.images.models import ImageStatus
from tests.conftest import ClientFor, UserFactory, csrf_from
from tests.taxonomy.labeled import history, ids, image, labeled_project, states


def post_form(web: TestClient, url: str, **data: str) -> Response:
    return web.post(url, data={"csrf_token": csrf_from(web, "/projects"), **data})


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


@pytest.fixture
def pid(api: TestClient) -> int:
    return labeled_project(api)


@pytest.fixture
def web(browser_as: ClientFor, admin: User) -> TestClient:
    return browser_as(admin)


def page(web: TestClient, pid: int) -> str:
    resp = web.get(f"/projects/{pid}/taxonomy")
    assert resp.status_code == 200
    return resp.text


def test_the_page_shows_counts_with_the_sub_tree(web: TestClient, pid: int) -> None:
    html = page(web, pid)
    assert "1 image · 4 with sub-categories" in html  # glass
    assert "2 images</span>" in html  # wine, cup: no sub-tree to add


def test_deleting_a_labeled_category_through_the_form(
    web: TestClient, api: TestClient, pid: int, db: Session
) -> None:
    c = ids(api, pid)
    html = page(web, pid)
    assert 'name="labels_to" value="parent"' in html
    assert 'name="move_to"' in html
    before = (history(db), states(db))
    url = f"/projects/{pid}/taxonomy/{c['glass/wine']}/delete"

    refused = post_form(web, url)
    assert refused.status_code == 409
    assert "2 labels" in refused.text
    assert "move them to the parent" in refused.text
    missing = post_form(web, url, labels_to="other", move_to="")
    assert missing.status_code == 400
    assert "Move to: missing" in missing.text
    root = post_form(web, f"/projects/{pid}/taxonomy/{c['cup']}/delete", labels_to="parent")
    assert root.status_code == 409
    assert "choose another category" in root.text
    assert (history(db), states(db)) == before

    done = post_form(web, url, labels_to="parent")
    assert done.status_code == 303
    assert "its 4 labels moved to glass" in page(web, pid)  # 2 history rows, 2 current
    assert states(db)["w1.jpg"] == (ImageStatus.labeled, c["glass"])
    assert len(history(db)) == len(before[0])

    moved = post_form(
        web, f"/projects/{pid}/taxonomy/{c['cup']}/delete", labels_to="other",
        move_to=str(c["glass/beer"]),
    )  # fmt: skip
    assert moved.status_code == 303
    assert states(db)["c1.jpg"] == (ImageStatus.labeled, c["glass/beer"])


def test_merging_through_the_form(web: TestClient, api: TestClient, pid: int, db: Session) -> None:
    c = ids(api, pid)
    url = f"/projects/{pid}/taxonomy/{c['cup']}/merge"
    assert f'action="{url}"' in page(web, pid)
    itself = post_form(web, url, into_id=str(c["cup"]))
    assert itself.status_code == 422
    assert "cannot be merged into itself" in itself.text
    assert post_form(web, url, into_id="").status_code == 400
    inside = post_form(
        web, f"/projects/{pid}/taxonomy/{c['glass']}/merge", into_id=str(c["glass/wine"])
    )
    assert inside.status_code == 409

    done = post_form(web, url, into_id=str(c["glass"]))
    assert done.status_code == 303
    assert "Merged cup into glass: 4 labels moved." in page(web, pid)
    assert states(db)["c2.jpg"] == (ImageStatus.labeled, c["glass"])


def test_pinning_from_the_image_page_and_unpinning_from_the_taxonomy(
    web: TestClient, api: TestClient, pid: int, db: Session
) -> None:
    c = ids(api, pid)
    w1 = image(db, "w1.jpg").id
    html = web.get(f"/images/{w1}").text
    assert "Pin as example of" in html
    # The image's own label is the one proposed.
    assert f'<option value="{c["glass/wine"]}" selected>glass/wine</option>' in html

    resp = post_form(
        web,
        f"/projects/{pid}/examples",
        image_id=str(w1),
        category_id=str(c["glass/wine"]),
        kind="positive",
    )
    assert resp.status_code == 303
    assert resp.headers["location"] == f"/images/{w1}"
    assert "Pinned as a positive example of wine." in web.get(f"/images/{w1}").text
    taxonomy = page(web, pid)
    assert f'src="/api/v1/images/{w1}/thumbnail"' in taxonomy
    unpin = f"/projects/{pid}/taxonomy/{c['glass/wine']}/examples/{w1}/unpin"
    assert f'action="{unpin}"' in taxonomy

    # Bad input comes back to the image page as an error message; nothing is pinned.
    for form in (
        {"category_id": str(c["cup"]), "kind": "sideways"},
        {"category_id": "", "kind": "positive"},
        {"category_id": "999999", "kind": "negative"},
    ):
        bad = post_form(web, f"/projects/{pid}/examples", image_id=str(w1), **form)
        assert bad.status_code == 303, form
        assert 'class="flash flash-error"' in web.get(f"/images/{w1}").text, form
    assert api.get(f"/api/v1/categories/{c['cup']}/examples").json()["positive"] == []

    assert post_form(web, unpin).status_code == 303
    assert f"/api/v1/images/{w1}/thumbnail" not in page(web, pid)
    assert post_form(web, unpin).status_code == 404


def test_pin_and_unpin_need_a_manager(
    web: TestClient,
    api: TestClient,
    pid: int,
    db: Session,
    browser_as: ClientFor,
    labeler: User,
    make_user: UserFactory,
) -> None:
    c = ids(api, pid)
    w1 = image(db, "w1.jpg").id
    api.post(f"/api/v1/categories/{c['cup']}/examples", json={"image_id": w1, "kind": "negative"})
    assert post_form(web, f"/projects/{pid}/members", username=labeler.username).status_code == 303
    lena = browser_as(labeler)
    assert "Pin as example of" not in lena.get(f"/images/{w1}").text
    lena_page = lena.get(f"/projects/{pid}/taxonomy").text
    assert f"/api/v1/images/{w1}/thumbnail" in lena_page  # the guide is for everyone
    assert "Unpin" not in lena_page
    form = {"category_id": str(c["cup"]), "kind": "positive"}
    unpin = f"/projects/{pid}/taxonomy/{c['cup']}/examples/{w1}/unpin"
    assert post_form(lena, f"/projects/{pid}/examples", image_id=str(w1), **form).status_code == 403
    assert post_form(lena, unpin).status_code == 403
    merge = f"/projects/{pid}/taxonomy/{c['cup']}/merge"
    assert post_form(lena, merge, into_id=str(c["glass"])).status_code == 403
    outsider = browser_as(make_user())
    assert (
        post_form(outsider, f"/projects/{pid}/examples", image_id=str(w1), **form).status_code
        == 404
    )
    assert post_form(outsider, unpin).status_code == 404
    assert post_form(outsider, merge, into_id=str(c["glass"])).status_code == 404
    negative = api.get(f"/api/v1/categories/{c['cup']}/examples").json()["negative"]
    assert [i["id"] for i in negative] == [w1]
    assert "cup" in ids(api, pid)


def test_a_category_of_another_project_cannot_be_used(
    web: TestClient, api: TestClient, pid: int, db: Session
) -> None:
    c = ids(api, pid)
    other = labeled_project(api, "Other", seed=100)
    theirs = ids(api, other)
    w1 = image(db, "w1.jpg").id
    post_form(
        web,
        f"/projects/{pid}/examples",
        image_id=str(w1),
        category_id=str(theirs["cup"]),
        kind="positive",
    )
    assert api.get(f"/api/v1/categories/{theirs['cup']}/examples").json()["positive"] == []
    # Their image through this project's form: not an image of this project.
    their_image = api.get(f"/api/v1/projects/{other}/images").json()["items"][0]["id"]
    form = {"category_id": str(c["cup"]), "kind": "positive"}
    foreign = post_form(web, f"/projects/{pid}/examples", image_id=str(their_image), **form)
    assert foreign.status_code == 404
    assert post_form(web, f"/projects/{pid}/examples", image_id="", **form).status_code == 400
    assert api.get(f"/api/v1/categories/{c['cup']}/examples").json()["positive"] == []
    merge = post_form(web, f"/projects/{pid}/taxonomy/{c['cup']}/merge", into_id=str(theirs["cup"]))
    assert merge.status_code == 422
    delete = post_form(
        web, f"/projects/{pid}/taxonomy/{c['cup']}/delete", labels_to="other",
        move_to=str(theirs["cup"]),
    )  # fmt: skip
    assert delete.status_code == 422
    assert (
        post_form(
            web, f"/projects/{other}/taxonomy/{c['cup']}/merge", into_id=str(theirs["cup"])
        ).status_code
        == 404
    )
    assert "cup" in ids(api, pid)


def test_markup_in_category_names_shows_as_text(
    web: TestClient, api: TestClient, pid: int, db: Session
) -> None:
    name = "<img src=x onerror=alert(1)>"
    c = ids(api, pid)
    evil = api.post(f"/api/v1/projects/{pid}/categories", json={"name": name}).json()
    w1 = image(db, "w1.jpg").id
    post_form(
        web,
        f"/projects/{pid}/examples",
        image_id=str(w1),
        category_id=str(evil["id"]),
        kind="positive",
    )
    image_page = web.get(f"/images/{w1}").text
    assert name not in image_page
    assert "&lt;img src=x onerror=alert(1)&gt;" in image_page
    html = page(web, pid)
    assert name not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # Errors and flashes that name it escape it too.
    merged = post_form(web, f"/projects/{pid}/taxonomy/{c['cup']}/merge", into_id=str(evil["id"]))
    assert merged.status_code == 303
    after = page(web, pid)
    assert "Merged cup into &lt;img" in after
    assert name not in after
    api.post(
        f"/api/v1/categories/{evil['id']}/examples",
        json={"image_id": image(db, "w2.jpg").id, "kind": "negative"},
    )
    deleted = post_form(web, f"/projects/{pid}/taxonomy/{evil['id']}/delete")
    assert deleted.status_code == 409
    assert name not in deleted.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in deleted.text
