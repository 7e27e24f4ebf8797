"""``GET /api/v1/projects/{pid}/stats``: the figures behind the project overview."""

from __future__ import annotations

from fastapi import APIRouter

from app.auth.deps import ApiUser
from app.db import SessionDep
from app.insights import overview
from app.insights.overview_schemas import ProjectStats
from app.projects import service as projects
from app.validation import Id

router = APIRouter(prefix="/projects", tags=["projects"])


@router.get("/{project_id}/stats", response_model=ProjectStats)
def project_stats(project_id: Id, session: SessionDep, user: ApiUser) -> ProjectStats:
    """Progress (with the pace of the last 24 hours), labels per category over the
    taxonomy tree with the newest model's F1 beside each, decisions per day by annotator
    (last 14 days, UTC), accuracy and macro-F1 per run, the quality queues' counts, the
    newest model against the one before it, and what ranks the queue. Any member may read
    it; to anyone else the project does not exist (404)."""
    project = projects.get_project(session, user, project_id)
    return overview.stats(session, project)
