from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.auth.deps import PageUser
from app.auth.models import User
from app.db import SessionDep
from app.errors import DomainError
from app.projects import service
from app.projects.choices import BACKBONE_LABELS, STRATEGIES
from app.projects.models import Project, ProjectRole
from app.projects.schemas import MemberAdd, ProjectCreate, ProjectUpdate
from app.validation import Id
from app.web.flash import flash
from app.web.forms import parse_form
from app.web.templates import render

router = APIRouter()

# What domains above projects add to the project page (labeling's open-disputes count):
# app.pages registers them here, so that projects imports nothing from a higher layer.
ProjectPageExtra = Callable[[Session, Project, bool], Any]
PAGE_EXTRAS: dict[str, ProjectPageExtra] = {}

FormStr = Annotated[str, Form(max_length=8192)]
# The project page's sections (?tab=); the template offers each caller the ones they may use.
TabName = Annotated[str, Query(max_length=20)]


def _list_page(
    request: Request,
    session: SessionDep,
    user: User,
    *,
    archived: bool,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    projects = service.visible_projects(session, user, include_archived=archived)
    context = {
        "projects": projects,
        "show_archived": archived,
        "can_create": service.can_create_projects(user),
        **extra,
    }
    return render(request, "projects/list.html", context, user=user, status_code=status_code)


@router.get("/")
def home(_user: PageUser) -> Response:
    return RedirectResponse("/projects", status_code=303)


@router.get("/projects")
def projects_page(
    request: Request, session: SessionDep, user: PageUser, archived: bool = False
) -> Response:
    return _list_page(request, session, user, archived=archived)


@router.post("/projects")
def create_project(
    request: Request,
    session: SessionDep,
    user: PageUser,
    name: FormStr = "",
    description: FormStr = "",
) -> Response:
    try:
        body = parse_form(ProjectCreate, {"name": name, "description": description})
        project = service.create_project(session, user, body.name, body.description)
    except DomainError as exc:
        return _list_page(
            request,
            session,
            user,
            archived=False,
            error=exc.detail,
            form={"name": name, "description": description},
            status_code=exc.status_code,
        )
    flash(request, f"Created project {project.name}.")
    return RedirectResponse(f"/projects/{project.id}", status_code=303)


def _project_page(
    request: Request,
    session: SessionDep,
    user: User,
    project: Project,
    *,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    can_manage = service.can_manage(session, user, project)
    context = {
        "project": project,
        "members": service.list_members(session, project),
        "can_manage": can_manage,
        "member_roles": list(ProjectRole),
        "strategies": STRATEGIES,
        "backbones": BACKBONE_LABELS,
        **{name: extra_of(session, project, can_manage) for name, extra_of in PAGE_EXTRAS.items()},
        **extra,
    }
    return render(request, "projects/detail.html", context, user=user, status_code=status_code)


@router.get("/projects/{project_id}")
def project_page(
    request: Request, project_id: Id, session: SessionDep, user: PageUser, tab: TabName = ""
) -> Response:
    project = service.get_project(session, user, project_id)
    return _project_page(request, session, user, project, tab=tab or "overview")


def _managed_action(
    request: Request,
    session: SessionDep,
    user: User,
    project_id: Id,
    data: dict[str, Any],
    act: Callable[[Project, dict[str, Any]], str],
    tab: str,
) -> Response:
    """Shared shape of every change form: check rights, validate, act, flash, redirect
    (back to the form's own tab)."""
    project = service.get_managed_project(session, user, project_id)
    try:
        message = act(project, data)
    except DomainError as exc:
        session.rollback()
        project = service.get_project(session, user, project_id)
        return _project_page(
            request, session, user, project, error=exc.detail, status_code=exc.status_code, tab=tab
        )
    flash(request, message)
    return RedirectResponse(f"/projects/{project_id}?tab={tab}", status_code=303)


@router.post("/projects/{project_id}")
def update_project(
    request: Request,
    project_id: Id,
    session: SessionDep,
    user: PageUser,
    name: FormStr = "",
    description: FormStr = "",
    overlap_percent: FormStr = "",
    auto_train_every: FormStr = "",
    default_strategy: FormStr = "",
    backbone: FormStr = "",
    backbone_name: FormStr = "",
    test_share: FormStr = "",
) -> Response:
    def act(project: Project, data: dict[str, Any]) -> str:
        body = parse_form(ProjectUpdate, data)
        service.update_project(
            session,
            project,
            name=body.name,
            description=body.description,
            overlap_percent=body.overlap_percent,
            auto_train_every=body.auto_train_every,
            default_strategy=body.default_strategy,
            backbone=body.backbone,
            test_share=body.test_share,
        )
        return "Project saved."

    learning = {
        "overlap_percent": overlap_percent,
        "auto_train_every": auto_train_every,
        "default_strategy": default_strategy,
        # A timm or torchvision model typed by name wins over the select.
        "backbone": backbone_name if backbone_name.strip() else backbone,
        "test_share": test_share,
    }
    # A field left out of the form keeps its value.
    data = {"name": name, "description": description}
    data.update({k: v.strip() for k, v in learning.items() if v.strip()})
    return _managed_action(request, session, user, project_id, data, act, "settings")


@router.post("/projects/{project_id}/archive")
def archive_project(
    request: Request, project_id: Id, session: SessionDep, user: PageUser, archived: FormStr = "1"
) -> Response:
    def act(project: Project, data: dict[str, Any]) -> str:
        service.update_project(session, project, archived=data["archived"])
        return "Project archived." if data["archived"] else "Project restored."

    return _managed_action(
        request, session, user, project_id, {"archived": archived == "1"}, act, "settings"
    )


@router.post("/projects/{project_id}/members")
def add_member(
    request: Request,
    project_id: Id,
    session: SessionDep,
    user: PageUser,
    username: FormStr = "",
    role: FormStr = "labeler",
) -> Response:
    def act(project: Project, data: dict[str, Any]) -> str:
        body = parse_form(MemberAdd, data)
        member = service.add_member(session, project, body.username, body.role)
        return f"Added {member.username} as {member.role}."

    return _managed_action(
        request, session, user, project_id, {"username": username, "role": role}, act, "people"
    )


@router.post("/projects/{project_id}/members/{member_id}/remove")
def remove_member(
    request: Request, project_id: Id, member_id: Id, session: SessionDep, user: PageUser
) -> Response:
    def act(project: Project, data: dict[str, Any]) -> str:
        service.remove_member(session, project, member_id)
        return "Member removed."

    return _managed_action(request, session, user, project_id, {}, act, "people")
