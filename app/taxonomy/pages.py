"""The taxonomy page of a project: the tree for members, its forms for managers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app.auth.deps import PageUser
from app.auth.models import User
from app.db import SessionDep
from app.errors import DomainError
from app.projects import service as projects
from app.projects.models import Project
from app.taxonomy import service
from app.taxonomy.schemas import CategoryCreate, CategoryUpdate
from app.taxonomy.views import taxonomy_view
from app.validation import Id
from app.web.flash import flash
from app.web.forms import parse_form
from app.web.templates import render

router = APIRouter()

FormStr = Annotated[str, Form(max_length=8192)]

# Which form a failed submission re-opens with what was typed: "new" or a category id.
FormFor = str | int


def _taxonomy_page(
    request: Request,
    session: SessionDep,
    user: User,
    project: Project,
    *,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    context = {
        "project": project,
        "can_manage": projects.can_manage(session, user, project),
        "view": taxonomy_view(session, project),
        "form": {},
        "form_for": None,
        **extra,
    }
    return render(request, "taxonomy/page.html", context, user=user, status_code=status_code)


@router.get("/projects/{project_id}/taxonomy")
def taxonomy_page(
    request: Request, project_id: Id, session: SessionDep, user: PageUser
) -> Response:
    project = projects.get_project(session, user, project_id)
    return _taxonomy_page(request, session, user, project)


def _change(
    request: Request,
    session: SessionDep,
    user: User,
    project: Project,
    form: tuple[FormFor, dict[str, str]],
    act: Callable[[], str],
) -> Response:
    """Shared shape of every change form: act, flash, redirect; or re-render with the error."""
    try:
        message = act()
    except DomainError as exc:
        session.rollback()
        form_for, typed = form
        return _taxonomy_page(
            request,
            session,
            user,
            project,
            error=exc.detail,
            form=typed,
            form_for=form_for,
            status_code=exc.status_code,
        )
    flash(request, message)
    return RedirectResponse(f"/projects/{project.id}/taxonomy", status_code=303)


def _lines(text: str) -> str:
    """Browsers send a textarea's line breaks as CRLF; store plain LF."""
    return text.replace("\r\n", "\n")


def _key(node: service.Node) -> str:
    return f" (key {node.category.shortcut})" if node.category.shortcut else ""


@router.post("/projects/{project_id}/taxonomy")
def create_category(
    request: Request,
    project_id: Id,
    session: SessionDep,
    user: PageUser,
    name: FormStr = "",
    parent_id: FormStr = "",
    shortcut: FormStr = "",
    color: FormStr = "",
    description: FormStr = "",
) -> Response:
    project = projects.get_managed_project(session, user, project_id)
    typed = {
        "name": name,
        "parent_id": parent_id,
        "shortcut": shortcut,
        "color": color,
        "description": description,
    }

    def act() -> str:
        body = parse_form(
            CategoryCreate,
            {
                "name": name,
                "parent_id": parent_id or None,
                "shortcut": shortcut.strip() or None,
                "color": color or None,
                "description": _lines(description),
            },
        )
        node = service.create_category(session, project, body)
        return f"Added {node.path}{_key(node)}."

    return _change(request, session, user, project, ("new", typed), act)


@router.post("/projects/{project_id}/taxonomy/{category_id}")
def update_category(
    request: Request,
    project_id: Id,
    category_id: Id,
    session: SessionDep,
    user: PageUser,
    name: FormStr = "",
    parent_id: FormStr = "",
    shortcut: FormStr = "",
    color: FormStr = "",
    description: FormStr = "",
    position: FormStr = "",
) -> Response:
    project = projects.get_managed_project(session, user, project_id)
    category = service.category_in_project(session, project, category_id)
    typed = {
        "name": name,
        "parent_id": parent_id,
        "shortcut": shortcut,
        "color": color,
        "description": description,
        "position": position,
    }

    def act() -> str:
        # parent_id and shortcut are always sent: "" means the root, and no shortcut.
        data: dict[str, Any] = {
            "name": name,
            "parent_id": parent_id or None,
            "shortcut": shortcut.strip() or None,
            "description": _lines(description),
        }
        if color:
            data["color"] = color
        # An empty position is not a reorder: a moved category goes last in its new place.
        if position.strip():
            data["position"] = position.strip()
        node = service.update_category(session, project, category, parse_form(CategoryUpdate, data))
        return f"Saved {node.path}{_key(node)}."

    return _change(request, session, user, project, (category_id, typed), act)


@router.post("/projects/{project_id}/taxonomy/{category_id}/delete")
def delete_category(
    request: Request, project_id: Id, category_id: Id, session: SessionDep, user: PageUser
) -> Response:
    project = projects.get_managed_project(session, user, project_id)
    category = service.category_in_project(session, project, category_id)

    def act() -> str:
        name = category.name
        service.delete_category(session, project, category)
        return f"Deleted {name}."

    return _change(request, session, user, project, (category_id, {}), act)
