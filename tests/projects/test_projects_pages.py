"""The project pages, used through plain HTML forms."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.projects.models import Membership, Project
from tests.conftest import ClientFor, csrf_from


def post_form(page: TestClient, url: str, **data: str) -> object:
    return page.post(url, data={"csrf_token": csrf_from(page, "/projects"), **data})


def test_create_open_rename_and_archive_through_forms(
    browser_as: ClientFor, admin: User, db: Session
) -> None:
    page = browser_as(admin)
    assert "No projects yet" in page.get("/projects").text
    resp = post_form(page, "/projects", name="Flowers", description="twelve species")
    assert resp.status_code == 303  # type: ignore[attr-defined]
    pid = db.scalar(select(Project.id).where(Project.name == "Flowers"))
    assert resp.headers["location"] == f"/projects/{pid}"  # type: ignore[attr-defined]
    detail = page.get(f"/projects/{pid}").text
    assert "Created project Flowers." in detail
    assert "twelve species" in detail
    post_form(page, f"/projects/{pid}", name="Flora", description="")
    assert "Flora" in page.get("/projects").text
    post_form(page, f"/projects/{pid}/archive", archived="1")
    assert "Flora" not in page.get("/projects").text
    assert "Flora" in page.get("/projects?archived=true").text
    post_form(page, f"/projects/{pid}/archive", archived="0")
    assert "Flora" in page.get("/projects").text


def test_form_errors_are_shown_and_change_nothing(
    browser_as: ClientFor, admin: User, db: Session
) -> None:
    page = browser_as(admin)
    post_form(page, "/projects", name="Flowers")
    dup = post_form(page, "/projects", name="FLOWERS", description="kept")
    assert dup.status_code == 409  # type: ignore[attr-defined]
    assert "already exists" in dup.text  # type: ignore[attr-defined]
    assert "kept" in dup.text  # type: ignore[attr-defined]  # the form keeps what was typed
    empty = post_form(page, "/projects", name="   ")
    assert empty.status_code == 400  # type: ignore[attr-defined]
    long = post_form(page, "/projects", name="n" * 101)
    assert long.status_code == 400  # type: ignore[attr-defined]
    huge = post_form(page, "/projects", name="x" * 9000)
    assert huge.status_code in (400, 422)  # type: ignore[attr-defined]
    assert db.scalars(select(Project.name)).all() == ["Flowers"]


def test_members_are_added_and_removed_from_the_project_page(
    browser_as: ClientFor, admin: User, labeler: User, db: Session
) -> None:
    page = browser_as(admin)
    post_form(page, "/projects", name="P")
    pid = db.scalar(select(Project.id))
    ok = post_form(page, f"/projects/{pid}/members", username="lena", role="labeler")
    assert ok.status_code == 303  # type: ignore[attr-defined]
    again = post_form(page, f"/projects/{pid}/members", username="lena", role="labeler")
    assert again.status_code == 409  # type: ignore[attr-defined]
    assert "already a member" in again.text  # type: ignore[attr-defined]
    ghost = post_form(page, f"/projects/{pid}/members", username="ghost", role="labeler")
    assert ghost.status_code == 404  # type: ignore[attr-defined]
    lena_page = browser_as(labeler)
    assert lena_page.get(f"/projects/{pid}").status_code == 200
    assert "New project" not in lena_page.get("/projects").text
    post_form(page, f"/projects/{pid}/members/{labeler.id}/remove")
    assert lena_page.get(f"/projects/{pid}").status_code == 404
    db.expire_all()
    assert db.scalars(select(Membership.user_id)).all() == [admin.id]


def test_hostile_names_are_escaped_in_pages(browser_as: ClientFor, admin: User) -> None:
    page = browser_as(admin)
    post_form(page, "/projects", name="<script>alert(1)</script>")
    html = page.get("/projects").text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_learning_settings_through_the_form(
    browser_as: ClientFor, admin: User, db: Session
) -> None:
    page = browser_as(admin)
    post_form(page, "/projects", name="Birds")
    pid = db.scalar(select(Project.id).where(Project.name == "Birds"))
    html = page.get(f"/projects/{pid}").text
    assert 'name="auto_train_every" type="number" min="0" max="100000" value="20"' in html
    resp = post_form(
        page,
        f"/projects/{pid}",
        name="Birds",
        description="",
        overlap_percent="10",
        auto_train_every="50",
        default_strategy="margin",
        backbone="efficientnet_lite0",
    )
    assert resp.status_code == 303  # type: ignore[attr-defined]
    db.expire_all()
    project = db.get_one(Project, pid)
    assert (project.overlap_percent, project.auto_train_every, project.default_strategy) == (
        10,
        50,
        "margin",
    )
    for field, value in (
        ("default_strategy", "<script>x</script>"),
        ("auto_train_every", "-1"),
        ("backbone", "../../weights"),
        ("overlap_percent", "101"),
    ):
        bad = post_form(page, f"/projects/{pid}", name="Birds", **{field: value})
        assert bad.status_code == 400, field  # type: ignore[attr-defined]
        assert "<script>x</script>" not in bad.text  # type: ignore[attr-defined]
    db.expire_all()
    assert db.get_one(Project, pid).default_strategy == "margin"
