"""Projects and membership over the API: who may do what, and what bad input gets."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.projects.models import Membership, Project
from tests.conftest import ClientFor, UserFactory


def count(db: Session, model: type[object]) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_admins_and_managers_create_projects_labelers_cannot(
    api_as: ClientFor, admin: User, manager: User, labeler: User, db: Session
) -> None:
    a = api_as(admin).post("/api/v1/projects", json={"name": "Glassware", "description": "cups"})
    assert a.status_code == 201
    assert a.json()["name"] == "Glassware"
    assert isinstance(a.json()["id"], int)
    m = api_as(manager).post("/api/v1/projects", json={"name": "Dogs"})
    assert m.status_code == 201
    lab = api_as(labeler).post("/api/v1/projects", json={"name": "Cats"})
    assert lab.status_code == 403
    assert count(db, Project) == 2


def test_creator_becomes_project_manager(api_as: ClientFor, manager: User) -> None:
    api = api_as(manager)
    pid = api.post("/api/v1/projects", json={"name": "Dogs"}).json()["id"]
    members = api.get(f"/api/v1/projects/{pid}/members").json()
    assert [(m["username"], m["role"]) for m in members] == [("mona", "manager")]


@pytest.mark.parametrize("clash", ["Flowers", "flowers", "  FLOWERS ", "Flowers\u00a0"])
def test_duplicate_names_conflict_whatever_the_case_or_spaces(
    api_as: ClientFor, admin: User, db: Session, clash: str
) -> None:
    api = api_as(admin)
    assert api.post("/api/v1/projects", json={"name": "Flowers"}).status_code == 201
    resp = api.post("/api/v1/projects", json={"name": clash})
    assert resp.status_code == 409
    assert resp.json()["detail"] == "A project named 'Flowers' already exists."
    assert count(db, Project) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": "tab\tname"},
        {"name": "line\nbreak"},
        {"name": "nul\x00"},
        {"name": 42},
        {"name": None},
        {"name": "ok", "description": "d" * 2001},
        {"name": "ok", "description": "bell\x07"},
        {"name": "ok", "owner_id": 1},
    ],
)
def test_bad_project_input_is_refused(
    api_as: ClientFor, admin: User, db: Session, body: dict[str, object]
) -> None:
    resp = api_as(admin).post("/api/v1/projects", json=body)
    assert resp.status_code == 422
    assert isinstance(resp.json()["detail"], str)
    assert count(db, Project) == 0


def test_hostile_but_valid_text_is_stored_verbatim(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    name = "<img src=x onerror=alert(1)> 'ö'; DROP TABLE projects;--"
    resp = api.post("/api/v1/projects", json={"name": name, "description": "line one\nline two"})
    assert resp.status_code == 201
    assert api.get(f"/api/v1/projects/{resp.json()['id']}").json()["name"] == name


def test_labelers_see_only_their_projects(
    api_as: ClientFor, admin: User, labeler: User, make_user: UserFactory
) -> None:
    api = api_as(admin)
    mine = api.post("/api/v1/projects", json={"name": "Mine"}).json()["id"]
    other = api.post("/api/v1/projects", json={"name": "Other"}).json()["id"]
    added = api.post(
        f"/api/v1/projects/{mine}/members", json={"username": "lena", "role": "labeler"}
    )
    assert added.status_code == 201
    lena = api_as(labeler)
    assert [p["name"] for p in lena.get("/api/v1/projects").json()] == ["Mine"]
    assert lena.get(f"/api/v1/projects/{mine}").status_code == 200
    # Not a member: the project is indistinguishable from a missing one.
    hidden = lena.get(f"/api/v1/projects/{other}")
    assert hidden.status_code == 404
    assert hidden.json() == lena.get("/api/v1/projects/424242").json() | {
        "detail": f"No project with id {other}."
    }
    # A global manager is no exception: they see the projects they belong to.
    mona = make_user(Role.manager, "mona")
    staff = api_as(mona)
    assert staff.get("/api/v1/projects").json() == []
    api.post(f"/api/v1/projects/{other}/members", json={"username": "mona", "role": "manager"})
    assert [p["name"] for p in staff.get("/api/v1/projects").json()] == ["Other"]
    assert {p["name"] for p in api.get("/api/v1/projects").json()} == {"Mine", "Other"}


def test_members_conflict_unknown_user_and_remove(
    api_as: ClientFor, admin: User, labeler: User, db: Session
) -> None:
    api = api_as(admin)
    pid = api.post("/api/v1/projects", json={"name": "P"}).json()["id"]
    url = f"/api/v1/projects/{pid}/members"
    assert api.post(url, json={"username": "lena", "role": "labeler"}).status_code == 201
    again = api.post(url, json={"username": "lena", "role": "manager"})
    assert again.status_code == 409
    assert again.json()["detail"] == "lena is already a member of this project."
    assert api.post(url, json={"username": "nobody", "role": "labeler"}).status_code == 404
    assert api.post(url, json={"username": "lena", "role": "admin"}).status_code == 422
    assert api.delete(f"{url}/{labeler.id}").status_code == 204
    assert api.delete(f"{url}/{labeler.id}").status_code == 404
    assert api_as(labeler).get(f"/api/v1/projects/{pid}").status_code == 404
    assert count(db, Membership) == 1  # the creator


def test_who_may_change_a_project(
    api_as: ClientFor, admin: User, labeler: User, make_user: UserFactory
) -> None:
    api = api_as(admin)
    pid = api.post("/api/v1/projects", json={"name": "P"}).json()["id"]
    lead = make_user(Role.labeler, "lead")
    api.post(f"/api/v1/projects/{pid}/members", json={"username": "lena", "role": "labeler"})
    api.post(f"/api/v1/projects/{pid}/members", json={"username": "lead", "role": "manager"})
    lena, lead_api = api_as(labeler), api_as(lead)
    # A labeler member may look but not change.
    assert lena.patch(f"/api/v1/projects/{pid}", json={"name": "Q"}).status_code == 403
    assert (
        lena.post(f"/api/v1/projects/{pid}/members", json={"username": "root"}).status_code == 403
    )
    # A labeler who manages this project may.
    assert lead_api.patch(f"/api/v1/projects/{pid}", json={"name": "Q"}).status_code == 200
    outsider = api_as(make_user(Role.labeler))
    assert outsider.patch(f"/api/v1/projects/{pid}", json={"name": "R"}).status_code == 404


def test_rename_archive_and_restore(api_as: ClientFor, admin: User, labeler: User) -> None:
    api = api_as(admin)
    pid = api.post("/api/v1/projects", json={"name": "Old"}).json()["id"]
    api.post("/api/v1/projects", json={"name": "Taken"})
    api.post(f"/api/v1/projects/{pid}/members", json={"username": "lena"})
    assert api.patch(f"/api/v1/projects/{pid}", json={"name": "taken"}).status_code == 409
    assert api.patch(f"/api/v1/projects/{pid}", json={"name": ""}).status_code == 422
    renamed = api.patch(f"/api/v1/projects/{pid}", json={"name": "New", "description": "d"})
    assert renamed.json()["name"] == "New"
    archived = api.patch(f"/api/v1/projects/{pid}", json={"archived": True}).json()
    assert archived["archived"] is True
    assert archived["archived_at"]
    assert "New" not in [p["name"] for p in api.get("/api/v1/projects").json()]
    listed = api.get("/api/v1/projects", params={"include_archived": "true"}).json()
    assert "New" in [p["name"] for p in listed]
    assert api_as(labeler).get("/api/v1/projects").json() == []
    # An archived project's membership is frozen until it is restored.
    frozen = api.post(f"/api/v1/projects/{pid}/members", json={"username": "root"})
    assert frozen.status_code == 409
    restored = api.patch(f"/api/v1/projects/{pid}", json={"archived": False}).json()
    assert restored["archived"] is False


def test_unknown_and_malformed_ids(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    assert api.get("/api/v1/projects/999").status_code == 404
    assert api.get("/api/v1/projects/abc").status_code == 422
    assert api.get("/api/v1/projects/99999999999999999999999").status_code in (404, 422)
