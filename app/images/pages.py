"""Image pages below the model's view: near-duplicate groups, and the project page's links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.auth.deps import PageUser
from app.db import SessionDep
from app.images import duplicates, duplicates_view, service
from app.images.params import parse_page
from app.projects import service as projects
from app.validation import Id
from app.web.templates import render

router = APIRouter()

Param = Annotated[str, Query(max_length=100)]


@router.get("/projects/{project_id}/duplicates")
def duplicates_page(
    request: Request, project_id: Id, session: SessionDep, user: PageUser, page: Param = "1"
) -> Response:
    project = projects.get_project(session, user, project_id)
    number = parse_page(page)
    context = {
        "project": project,
        "page": number,
        "view": duplicates_view.duplicate_groups(session, project, number),
    }
    return render(request, "images/duplicates.html", context, user=user)


@router.get("/projects/{project_id}/images/_links")
def image_links(request: Request, project_id: Id, session: SessionDep, user: PageUser) -> Response:
    """The project page's Gallery and Duplicates links, with their counts."""
    project = projects.get_project(session, user, project_id)
    context = {
        "project": project,
        "total": sum(service.status_counts(session, project.id).values()),
        "groups": duplicates.count_groups(session, project.id),
    }
    return render(request, "images/_links.html", context, user=user)
