"""Walk every route: anonymous callers, missing CSRF tokens and wrong roles are refused."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.training.models import RunMode, TrainingRun
from tests.conftest import ClientFor, UserFactory, csrf_from
from tests.images.corpus import jpeg
from tests.support.routes import UNSAFE, all_routes, fill

PUBLIC = {
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/auth/token"),
    ("GET", "/login"),
    ("POST", "/login"),
}

# The minimum standing needed for each state-changing route. A labeler who is a plain
# member of project 1 has none of them, so each must answer 403 to them.
STATE_CHANGING = {
    ("POST", "/api/v1/users"): "admin",
    ("PATCH", "/api/v1/users/{user_id}"): "admin",
    ("POST", "/api/v1/projects"): "admin or manager",
    ("PATCH", "/api/v1/projects/{project_id}"): "project manager",
    ("POST", "/api/v1/projects/{project_id}/members"): "project manager",
    ("DELETE", "/api/v1/projects/{project_id}/members/{user_id}"): "project manager",
    ("POST", "/api/v1/projects/{project_id}/categories"): "project manager",
    ("PATCH", "/api/v1/categories/{category_id}"): "project manager",
    ("DELETE", "/api/v1/categories/{category_id}"): "project manager",
    ("POST", "/api/v1/projects/{project_id}/taxonomy"): "project manager",
    ("POST", "/api/v1/projects/{project_id}/images"): "project manager",
    ("POST", "/api/v1/projects/{project_id}/labels-csv"): "project manager",
    ("POST", "/projects/{project_id}/labels-csv"): "project manager",
    ("POST", "/api/v1/categories/{category_id}/merge"): "project manager",
    ("POST", "/api/v1/categories/{category_id}/examples"): "project manager",
    ("DELETE", "/api/v1/categories/{category_id}/examples/{image_id}"): "project manager",
    ("POST", "/projects/{project_id}/taxonomy/{category_id}/merge"): "project manager",
    ("POST", "/projects/{project_id}/examples"): "project manager",
    ("POST", "/projects/{project_id}/taxonomy/{category_id}/examples/{image_id}/unpin"): (
        "project manager"
    ),
    ("POST", "/admin/users"): "admin",
    ("POST", "/admin/users/{user_id}"): "admin",
    ("POST", "/projects"): "admin or manager",
    ("POST", "/projects/{project_id}"): "project manager",
    ("POST", "/projects/{project_id}/archive"): "project manager",
    ("POST", "/projects/{project_id}/members"): "project manager",
    ("POST", "/projects/{project_id}/members/{member_id}/remove"): "project manager",
    ("POST", "/projects/{project_id}/taxonomy"): "project manager",
    ("POST", "/projects/{project_id}/taxonomy/{category_id}"): "project manager",
    ("POST", "/projects/{project_id}/taxonomy/{category_id}/delete"): "project manager",
    ("POST", "/api/v1/projects/{project_id}/training-runs"): "project manager",
    ("POST", "/api/v1/training-runs/{run_id}/cancel"): "project manager",
    ("POST", "/projects/{project_id}/runs"): "project manager",
    ("POST", "/projects/{project_id}/runs/{run_id}/cancel"): "project manager",
}
ANY_USER = {("POST", "/logout"), ("POST", "/logout/everywhere")}
# Labeling work: every member may, so the wrong standing is an outsider, who gets 404.
PROJECT_MEMBER = {
    ("POST", "/api/v1/projects/{project_id}/duplicate-groups/{group_id}/keep"),
    ("POST", "/projects/{project_id}/duplicates/{group_id}/keep"),
    ("POST", "/api/v1/images/{image_id}/annotations"),
    ("POST", "/api/v1/projects/{project_id}/undo"),
    ("POST", "/api/v1/projects/{project_id}/annotations/bulk"),
    ("POST", "/api/v1/projects/{project_id}/queue/release"),
}

VALID_BODIES: dict[tuple[str, str], dict[str, object]] = {
    ("POST", "/api/v1/users"): {"username": "intruder", "password": "long-enough", "role": "admin"},
    ("PATCH", "/api/v1/users/{user_id}"): {"role": "admin"},
    ("POST", "/api/v1/projects"): {"name": "Mine now"},
    ("PATCH", "/api/v1/projects/{project_id}"): {"name": "Renamed"},
    ("POST", "/api/v1/projects/{project_id}/members"): {"username": "lena", "role": "manager"},
    ("POST", "/api/v1/projects/{project_id}/categories"): {"name": "sneaky"},
    ("PATCH", "/api/v1/categories/{category_id}"): {"name": "renamed"},
    ("POST", "/api/v1/projects/{project_id}/taxonomy"): {"text": "sneaky"},
    ("POST", "/api/v1/projects/{project_id}/duplicate-groups/{group_id}/keep"): {"image_id": 1},
    ("POST", "/api/v1/categories/{category_id}/merge"): {"into_id": 1},
    ("POST", "/api/v1/categories/{category_id}/examples"): {"image_id": 1, "kind": "positive"},
    ("POST", "/api/v1/images/{image_id}/annotations"): {"category_id": 1},
    ("POST", "/api/v1/projects/{project_id}/annotations/bulk"): {
        "image_ids": [1],
        "rejected": True,
    },
    ("POST", "/api/v1/projects/{project_id}/queue/release"): {"image_ids": [1]},
    ("POST", "/api/v1/projects/{project_id}/training-runs"): {"mode": "linear"},
}
# Multipart routes: a valid upload, so only the standing can be what refuses it.
VALID_FILES: dict[tuple[str, str], dict[str, tuple[str, bytes]]] = {
    ("POST", "/api/v1/projects/{project_id}/images"): {"files": ("x.jpg", jpeg(seed=1))},
    ("POST", "/api/v1/projects/{project_id}/labels-csv"): {"file": ("l.csv", b"x.jpg,glass\n")},
    ("POST", "/projects/{project_id}/labels-csv"): {"file": ("l.csv", b"x.jpg,glass\n")},
}
VALID_FORMS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/admin/users"): {"username": "intruder", "password": "long-enough", "role": "admin"},
    ("POST", "/admin/users/{user_id}"): {"action": "role", "role": "labeler"},
    ("POST", "/projects"): {"name": "Mine now"},
    ("POST", "/projects/{project_id}"): {"name": "Renamed"},
    ("POST", "/projects/{project_id}/members"): {"username": "lena", "role": "manager"},
    ("POST", "/projects/{project_id}/taxonomy"): {"name": "sneaky"},
    ("POST", "/projects/{project_id}/taxonomy/{category_id}"): {"name": "renamed", "parent_id": ""},
    ("POST", "/projects/{project_id}/taxonomy/{category_id}/merge"): {"into_id": "1"},
    ("POST", "/projects/{project_id}/runs"): {"mode": "linear"},
    ("POST", "/projects/{project_id}/examples"): {
        "image_id": "1",
        "category_id": "1",
        "kind": "positive",
    },
}


def test_the_walk_sees_the_whole_app(app: FastAPI) -> None:
    routes = all_routes(app)
    assert len(routes) >= 25
    assert ("GET", "/docs") in routes
    assert ("POST", "/api/v1/projects") in routes


def test_every_route_but_health_token_and_login_refuses_anonymous_callers(app: FastAPI) -> None:
    checked = 0
    for method, path in all_routes(app):
        if (method, path) in PUBLIC:
            continue
        client = TestClient(app, follow_redirects=False)
        token = csrf_from(client)  # a valid CSRF token, so only the missing login is tested
        url = fill(path)
        if path.startswith("/api/"):
            resp = client.request(method, url, json={})
            assert resp.status_code == 401, (method, path, resp.text)
            assert isinstance(resp.json()["detail"], str)
        else:
            data = {"csrf_token": token} if method in UNSAFE else None
            resp = client.request(method, url, data=data)
            assert resp.status_code == 303, (method, path, resp.status_code)
            assert resp.headers["location"].startswith("/login"), (method, path)
        checked += 1
    assert checked >= 20


def test_public_routes_answer_anonymous_callers(client: TestClient) -> None:
    health = client.get("/api/v1/health")  # its contents: tests/web/test_health.py
    assert (health.status_code, health.json()["broker"]) == (200, "ok")
    assert client.get("/login").status_code == 200


def test_every_state_changing_route_is_in_the_role_table(app: FastAPI) -> None:
    unsafe = {(m, p) for m, p in all_routes(app) if m in UNSAFE}
    public = {r for r in PUBLIC if r[0] in UNSAFE}
    assert unsafe == set(STATE_CHANGING) | ANY_USER | PROJECT_MEMBER | public


def test_every_page_form_needs_the_csrf_token(
    app: FastAPI, browser_as: ClientFor, admin: User
) -> None:
    page = browser_as(admin)
    for method, path in all_routes(app):
        if method not in UNSAFE or path.startswith("/api/"):
            continue
        for data in ({}, {"csrf_token": "forged"}):
            resp = page.request(method, fill(path, admin.id), data=data)
            assert resp.status_code == 403, (method, path, data)
    assert page.get("/projects").status_code == 200  # still logged in: nothing happened


def test_cookie_authenticated_api_calls_need_the_csrf_header(
    browser_as: ClientFor, admin: User
) -> None:
    page = browser_as(admin)
    assert page.get("/api/v1/projects").status_code == 200
    assert page.post("/api/v1/projects", json={"name": "X"}).status_code == 403
    token = csrf_from(page, "/projects")
    ok = page.post("/api/v1/projects", json={"name": "X"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201


@pytest.fixture
def plain_member(api_as: ClientFor, admin: User, make_user: UserFactory, db: Session) -> User:
    """A labeler who belongs to project 1 (category 1, image 1, queued run 1) as a labeler."""
    lena = make_user(Role.labeler, "lena")
    api = api_as(admin)
    assert api.post("/api/v1/projects", json={"name": "P1"}).json()["id"] == 1
    api.post("/api/v1/projects/1/members", json={"username": "lena", "role": "labeler"})
    category = api.post("/api/v1/projects/1/categories", json={"name": "glass"})
    assert category.json()["id"] == 1
    image = api.post("/api/v1/projects/1/images", files={"files": ("a.jpg", jpeg(seed=2))})
    assert image.json()["imported"][0]["id"] == 1
    run = TrainingRun(project_id=1, mode=RunMode.linear, backbone="efficientnet_lite0")
    db.add(run)
    db.commit()
    assert run.id == 1
    return lena


def test_wrong_role_is_refused_on_every_state_changing_api_route(
    api_as: ClientFor, plain_member: User, admin: User
) -> None:
    api = api_as(plain_member)
    for (method, path), needed in STATE_CHANGING.items():
        if not path.startswith("/api/"):
            continue
        url = (
            path.replace("{project_id}", "1")
            .replace("{user_id}", str(admin.id))
            .replace("{category_id}", "1")
            .replace("{image_id}", "1")
            .replace("{run_id}", "1")
        )
        if (method, path) in VALID_FILES:
            resp = api.request(method, url, files=VALID_FILES[(method, path)])
        else:
            resp = api.request(method, url, json=VALID_BODIES.get((method, path)))
        assert resp.status_code == 403, (method, path, needed, resp.text)
    projects = api_as(admin).get("/api/v1/projects").json()
    assert [p["name"] for p in projects] == ["P1"]
    assert api_as(admin).get("/api/v1/projects/1/images").json()["total"] == 1


def test_outsiders_get_404_on_every_member_route(
    api_as: ClientFor, browser_as: ClientFor, plain_member: User, make_user: UserFactory
) -> None:
    otto = make_user(Role.labeler, "otto")
    api, page = api_as(otto), browser_as(otto)
    token = csrf_from(page, "/projects")
    for method, path in PROJECT_MEMBER:
        url = fill(path)
        if path.startswith("/api/"):
            resp = api.request(method, url, json=VALID_BODIES.get((method, path)))
        else:
            resp = page.request(method, url, data={"csrf_token": token, "image_id": "1"})
        assert resp.status_code == 404, (method, path, resp.text)


def test_wrong_role_is_refused_on_every_state_changing_page(
    browser_as: ClientFor, plain_member: User, admin: User
) -> None:
    page = browser_as(plain_member)
    token = csrf_from(page, "/projects")
    for (method, path), needed in STATE_CHANGING.items():
        if path.startswith("/api/"):
            continue
        url = (
            path.replace("{project_id}", "1")
            .replace("{user_id}", str(admin.id))
            .replace("{member_id}", str(admin.id))
            .replace("{category_id}", "1")
            .replace("{image_id}", "1")
            .replace("{run_id}", "1")
        )
        form = {"csrf_token": token, **VALID_FORMS.get((method, path), {})}
        resp = page.request(method, url, data=form, files=VALID_FILES.get((method, path)))
        assert resp.status_code == 403, (method, path, needed, resp.status_code)
