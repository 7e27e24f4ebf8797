"""GET /api/v1/projects/{pid}/agreement: how far the project's annotators agree."""

from __future__ import annotations

from fastapi import APIRouter

from app.auth.deps import ApiUser
from app.db import SessionDep
from app.insights.agreement import project_agreement
from app.insights.agreement_schemas import Agreement
from app.projects import service as projects
from app.validation import Id

router = APIRouter(tags=["insights"])


@router.get("/projects/{project_id}/agreement", response_model=Agreement)
def agreement(project_id: Id, session: SessionDep, user: ApiUser) -> Agreement:
    """Agreement over the images that got a second, independent label (the project's
    overlap setting): Fleiss' kappa and Krippendorff's nominal alpha for the project,
    Cohen's kappa per pair of annotators, each annotator's agreement with the final
    label, each category against the rest, and the category pairs most often split.

    Managers only: it grades each labeler, and settling disagreements is a manager's
    job. With no overlap yet, every list is empty and the coefficients are null."""
    project = projects.get_managed_project(session, user, project_id)
    return project_agreement(session, project)
