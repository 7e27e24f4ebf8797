"""The embedding map page: a shell whose script draws every point on a canvas."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.auth.deps import PageUser
from app.db import SessionDep
from app.insights import embedding_map
from app.projects import service as projects
from app.taxonomy.service import load_tree
from app.validation import Id
from app.web.templates import render

router = APIRouter()


@router.get("/projects/{project_id}/map")
def map_page(request: Request, project_id: Id, session: SessionDep, user: PageUser) -> Response:
    project = projects.get_project(session, user, project_id)
    tree = load_tree(session, project)
    categories = [
        {"id": n.category.id, "path": n.path, "color": n.category.color} for n in tree.depth_first()
    ]
    settings = {
        "project_id": project.id,
        "categories": categories,
        "can_manage": projects.can_manage(session, user, project),
    }
    context = {
        "project": project,
        "categories": categories,
        "settings": settings,
        "run_id": embedding_map.newest_run_id(session, project),
    }
    return render(request, "insights/map.html", context, user=user)
