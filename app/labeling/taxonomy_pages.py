"""The taxonomy page of a project: the tree for members, its forms for managers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.auth.deps import PageUser
from app.db import SessionDep
from app.labeling.taxonomy_forms import router as labels_router
from app.labeling.taxonomy_page import FormStr, change, taxonomy_page
from app.projects import service as projects
from app.taxonomy import service
from app.taxonomy.schemas import CategoryCreate, CategoryUpdate
from app.validation import Id
from app.web.forms import parse_form

router = APIRouter()
# The merge, delete, and example forms: labels are at stake there.
router.include_router(labels_router)


@router.get("/projects/{project_id}/taxonomy")
def show_taxonomy(
    request: Request, project_id: Id, session: SessionDep, user: PageUser
) -> Response:
    project = projects.get_project(session, user, project_id)
    return taxonomy_page(request, session, user, project)


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

    return change(request, session, user, project, ("new", typed), act)


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

    return change(request, session, user, project, (category_id, typed), act)
