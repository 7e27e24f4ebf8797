"""The project page's "Labels per person" card."""

from __future__ import annotations

from app.auth.models import Role, User
from tests.conftest import ClientFor, UserFactory
from tests.images.helpers import jpegs, new_project, upload


def test_counters_show_each_labelers_work_today(
    api_as: ClientFor, browser_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    api = api_as(admin)
    new_project(api, "another")  # so that this project's id is not the first one
    pid = new_project(api)
    images = [i["id"] for i in upload(api, pid, jpegs(3))["imported"]]  # type: ignore[union-attr]
    category = api.post(f"/api/v1/projects/{pid}/categories", json={"name": "glass"}).json()
    lena = make_user(Role.labeler, "lena")
    api.post(f"/api/v1/projects/{pid}/members", json={"username": "lena", "role": "labeler"})
    for image_id in images[:2]:
        resp = api_as(lena).post(
            f"/api/v1/images/{image_id}/annotations", json={"category_id": category["id"]}
        )
        assert resp.status_code == 201, resp.text
    api.post(f"/api/v1/images/{images[2]}/annotations", json={"rejected": True})

    page = browser_as(lena)
    assert f'hx-get="/projects/{pid}/counters/_table"' in page.get(f"/projects/{pid}").text
    table = page.get(f"/projects/{pid}/counters/_table").text
    assert '<th scope="row">lena</th><td>2</td><td>2</td><td>2/h</td>' in table
    assert '<th scope="row">root</th><td>1</td><td>1</td><td>1/h</td>' in table


def test_counters_are_empty_then_hidden_from_outsiders(
    api_as: ClientFor, browser_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    pid = new_project(api_as(admin))
    assert (
        "No labels this week yet" in browser_as(admin).get(f"/projects/{pid}/counters/_table").text
    )
    otto = make_user(Role.labeler, "otto")
    assert browser_as(otto).get(f"/projects/{pid}/counters/_table").status_code == 404
