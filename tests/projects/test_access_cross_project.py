"""The reported attack: manager A's token against manager B's project.

Both are global managers. Before access came from membership alone, A could rename B's
project, add and remove its members, merge its categories, start its runs, export it
and read its images: every call answered 2xx. Now A is an outsider there: every call
answers 404, and says no more than it would for a row that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.training.models import RunMode, RunStatus, TrainingRun
from tests.conftest import ClientFor, UserFactory, csrf_from
from tests.images.helpers import jpegs, upload

MISSING = 999_999


@dataclass
class BsProject:
    pid: int
    category: int
    other_category: int
    image: int
    run: int


@pytest.fixture
def anna(make_user: UserFactory) -> User:
    return make_user(Role.manager, "anna")


@pytest.fixture
def bert(make_user: UserFactory) -> User:
    return make_user(Role.manager, "bert")


@pytest.fixture
def b_project(api_as: ClientFor, bert: User, labeler: User, db: Session) -> BsProject:
    """Bert's project, made by Bert: a member, two categories, images and a finished run."""
    api = api_as(bert)
    pid = api.post("/api/v1/projects", json={"name": "Bert's"}).json()["id"]
    assert api.post(f"/api/v1/projects/{pid}/members", json={"username": "lena"}).status_code == 201
    glass = api.post(f"/api/v1/projects/{pid}/categories", json={"name": "glass"}).json()["id"]
    beer = api.post(f"/api/v1/projects/{pid}/categories", json={"name": "beer"}).json()["id"]
    imported = upload(api, pid, jpegs(2))["imported"]
    run = TrainingRun(
        project_id=pid,
        mode=RunMode.linear,
        backbone="efficientnet_lite0",
        status=RunStatus.succeeded,
    )
    db.add(run)
    db.commit()
    image = int(imported[0]["id"])  # type: ignore[index]
    return BsProject(pid, glass, beer, image, run.id)


def attacks(b: BsProject, lena: User) -> list[tuple[str, str, dict[str, object]]]:
    """What A tried, each with a body that Bert himself could send successfully."""
    pid = b.pid
    return [
        ("GET", f"/api/v1/projects/{pid}", {}),
        ("PATCH", f"/api/v1/projects/{pid}", {"json": {"name": "Anna's now"}}),
        ("GET", f"/api/v1/projects/{pid}/members", {}),
        (
            "POST",
            f"/api/v1/projects/{pid}/members",
            {"json": {"username": "anna", "role": "manager"}},
        ),
        ("DELETE", f"/api/v1/projects/{pid}/members/{lena.id}", {}),
        ("POST", f"/api/v1/categories/{b.category}/merge", {"json": {"into_id": b.other_category}}),
        ("PATCH", f"/api/v1/categories/{b.category}", {"json": {"name": "mine"}}),
        ("POST", f"/api/v1/projects/{pid}/categories", {"json": {"name": "planted"}}),
        ("POST", f"/api/v1/projects/{pid}/training-runs", {"json": {"mode": "linear"}}),
        ("GET", f"/api/v1/projects/{pid}/export", {}),
        ("GET", f"/api/v1/projects/{pid}/export", {"params": {"format": "csv"}}),
        ("GET", f"/api/v1/images/{b.image}/file", {}),
        ("GET", f"/api/v1/images/{b.image}/thumbnail", {}),
        ("GET", f"/api/v1/images/{b.image}/display", {}),
        ("GET", f"/api/v1/images/{b.image}", {}),
        ("GET", f"/api/v1/projects/{pid}/images", {}),
        ("GET", f"/api/v1/training-runs/{b.run}", {}),
        ("GET", f"/api/v1/training-runs/{b.run}/model", {}),
    ]


def test_manager_a_cannot_touch_manager_bs_project(
    api_as: ClientFor, anna: User, bert: User, labeler: User, b_project: BsProject
) -> None:
    a = api_as(anna)
    a.post("/api/v1/projects", json={"name": "Anna's"})
    answers = {
        (method, url): a.request(method, url, **kwargs).status_code  # type: ignore[arg-type]
        for method, url, kwargs in attacks(b_project, labeler)
    }
    assert answers == dict.fromkeys(answers, 404)
    assert [p["name"] for p in a.get("/api/v1/projects").json()] == ["Anna's"]
    listed = a.get("/api/v1/projects", params={"include_archived": True}).json()
    assert [p["name"] for p in listed] == ["Anna's"]

    # Bert's project is as he left it.
    b = api_as(bert)
    assert b.get(f"/api/v1/projects/{b_project.pid}").json()["name"] == "Bert's"
    members = b.get(f"/api/v1/projects/{b_project.pid}/members").json()
    assert sorted((m["username"], m["role"]) for m in members) == [
        ("bert", "manager"),
        ("lena", "labeler"),
    ]
    categories = b.get(f"/api/v1/projects/{b_project.pid}/categories").json()
    assert sorted(c["name"] for c in categories) == ["beer", "glass"]
    assert b.get(f"/api/v1/projects/{b_project.pid}/training-runs").json()[0]["id"] == (
        b_project.run
    )
    # And Bert, its manager, could have done each of those things.
    assert b.get(f"/api/v1/images/{b_project.image}/thumbnail").status_code == 200
    assert b.get(f"/api/v1/projects/{b_project.pid}/export").status_code == 200


def test_the_same_attack_through_the_pages(
    browser_as: ClientFor, anna: User, labeler: User, b_project: BsProject
) -> None:
    page = browser_as(anna)
    token = csrf_from(page, "/projects")
    pid = b_project.pid
    forms = {
        f"/projects/{pid}": {"name": "Anna's now"},
        f"/projects/{pid}/archive": {"archived": "1"},
        f"/projects/{pid}/members": {"username": "anna", "role": "manager"},
        f"/projects/{pid}/members/{labeler.id}/remove": {},
        f"/projects/{pid}/taxonomy/{b_project.category}/merge": {
            "into_id": str(b_project.other_category)
        },
        f"/projects/{pid}/runs": {"mode": "linear"},
    }
    for url, form in forms.items():
        assert page.post(url, data={"csrf_token": token, **form}).status_code == 404, url
    for url in (f"/projects/{pid}", f"/images/{b_project.image}", f"/projects/{pid}/training"):
        assert page.get(url).status_code == 404, url
    listing = page.get("/projects")
    assert listing.status_code == 200
    assert f'href="/projects/{pid}"' not in listing.text
    assert "Bert&#39;s" not in listing.text


@pytest.mark.parametrize(
    ("kind", "url", "message"),
    [
        ("category", "/api/v1/categories/{category}", "No category with id {id}."),
        ("category", "/api/v1/categories/{category}/examples", "No category with id {id}."),
        ("image", "/api/v1/images/{image}/file", "No image with id {id}."),
        ("image", "/api/v1/images/{image}/thumbnail", "No image with id {id}."),
        ("image", "/api/v1/images/{image}/annotations", "No image with id {id}."),
        ("run", "/api/v1/training-runs/{run}", "No training run with id {id}."),
        ("run", "/api/v1/training-runs/{run}/model", "No training run with id {id}."),
    ],
)
@pytest.mark.parametrize("role", [Role.manager, Role.labeler])
def test_a_hidden_row_reads_exactly_like_a_missing_one(
    api_as: ClientFor,
    make_user: UserFactory,
    b_project: BsProject,
    kind: str,
    url: str,
    message: str,
    role: Role,
) -> None:
    """The 404 names the row, never its project: 'No project with id 2.' told an
    outsider which project a category belonged to."""
    a = api_as(make_user(role, "stranger"))
    hidden_id = getattr(b_project, kind)
    hidden = a.get(url.format(**{kind: hidden_id}))
    missing = a.get(url.format(**{kind: MISSING}))
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.json()["detail"] == message.format(id=hidden_id)
    assert missing.json()["detail"] == message.format(id=MISSING)
    assert "project" not in hidden.json()["detail"].lower()


def test_a_category_change_by_an_outsider_reads_like_a_missing_category(
    api_as: ClientFor, anna: User, b_project: BsProject
) -> None:
    a = api_as(anna)
    for method, suffix, body in (
        ("PATCH", "", {"name": "x"}),
        ("DELETE", "", None),
        ("POST", "/merge", {"into_id": b_project.other_category}),
    ):
        resp = a.request(method, f"/api/v1/categories/{b_project.category}{suffix}", json=body)
        assert resp.status_code == 404
        assert resp.json() == {"detail": f"No category with id {b_project.category}."}


def test_a_labeler_member_is_refused_manager_actions_with_403(
    api_as: ClientFor, labeler: User, b_project: BsProject
) -> None:
    """Inside the project the answer is honest: they see it, and may not change it."""
    lena = api_as(labeler)
    pid = b_project.pid
    assert lena.get(f"/api/v1/projects/{pid}").status_code == 200
    for method, url, body in (
        ("PATCH", f"/api/v1/projects/{pid}", {"name": "Lena's"}),
        ("POST", f"/api/v1/projects/{pid}/members", {"username": "anna", "role": "manager"}),
        ("POST", f"/api/v1/categories/{b_project.category}/merge", {"into_id": 1}),
        ("POST", f"/api/v1/projects/{pid}/training-runs", {"mode": "linear"}),
        ("GET", f"/api/v1/projects/{pid}/export", None),
        ("GET", f"/api/v1/training-runs/{b_project.run}/model", None),
    ):
        resp = lena.request(method, url, json=body)
        assert resp.status_code == 403, (method, url, resp.text)
    assert lena.get(f"/api/v1/images/{b_project.image}/file").status_code == 200


def test_the_admin_still_sees_and_manages_every_project(
    api_as: ClientFor, admin: User, b_project: BsProject
) -> None:
    root = api_as(admin)
    assert [p["name"] for p in root.get("/api/v1/projects").json()] == ["Bert's"]
    renamed = root.patch(f"/api/v1/projects/{b_project.pid}", json={"description": "checked"})
    assert renamed.status_code == 200
    assert root.get(f"/api/v1/projects/{b_project.pid}/export").status_code == 200


def test_the_creator_is_the_projects_manager_member(
    api_as: ClientFor, anna: User, bert: User, b_project: BsProject
) -> None:
    b = api_as(bert)
    members = b.get(f"/api/v1/projects/{b_project.pid}/members").json()
    assert {"username": "bert", "role": "manager"}.items() <= members[0].items()
    # Made a member by Bert, Anna manages it too; removed, she is an outsider again.
    a = api_as(anna)
    b.post(
        f"/api/v1/projects/{b_project.pid}/members", json={"username": "anna", "role": "manager"}
    )
    assert (
        a.patch(f"/api/v1/projects/{b_project.pid}", json={"description": "x"}).status_code == 200
    )
    assert b.delete(f"/api/v1/projects/{b_project.pid}/members/{anna.id}").status_code == 204
    assert a.get(f"/api/v1/projects/{b_project.pid}").status_code == 404
