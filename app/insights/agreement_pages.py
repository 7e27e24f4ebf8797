"""The agreement page, and its card loaded into the project page by htmx (computed on
request, so the project page stays quick however many images got two opinions)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.auth.deps import PageUser
from app.db import SessionDep
from app.insights.agreement_view import card
from app.projects import service as projects
from app.validation import Id
from app.web.templates import render

router = APIRouter()


@router.get("/projects/{project_id}/agreement")
def agreement_page(
    request: Request, project_id: Id, session: SessionDep, user: PageUser
) -> Response:
    project = projects.get_managed_project(session, user, project_id)
    context = {"project": project, "agreement": card(session, project)}
    return render(request, "insights/agreement.html", context, user=user)


@router.get("/projects/{project_id}/agreement/_card")
def agreement_card(
    request: Request, project_id: Id, session: SessionDep, user: PageUser
) -> Response:
    project = projects.get_managed_project(session, user, project_id)
    context = {"project": project, "agreement": card(session, project)}
    return render(request, "insights/_agreement.html", context, user=user)
