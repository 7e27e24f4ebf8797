"""``GET /api/v1/projects/{pid}/label-issues``: the labels most likely wrong first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.deps import ApiUser
from app.db import SessionDep
from app.insights import label_issues
from app.insights.schemas import LabelIssueOut, LabelIssuesOut
from app.projects import service as projects
from app.validation import MAX_ID, Id

router = APIRouter(prefix="/projects", tags=["insights"])


@router.get("/{project_id}/label-issues", response_model=LabelIssuesOut)
def list_label_issues(
    project_id: Id,
    session: SessionDep,
    user: ApiUser,
    run_id: Annotated[
        Id | None, Query(description="A succeeded run of the project; default the newest.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> LabelIssuesOut:
    """Every labeled image the run scored, the label most likely wrong first. The score
    comes from out-of-fold probabilities (never from a model that saw the label): the
    run's cross-validated linear probe, re-fitted without the labels confident learning
    suspects, blended with the votes of each image's nearest labeled neighbours. After a
    fine-tuning run the probe is fitted on the run backbone's embeddings for the same
    labels. Without `run_id`: the newest run with scores; with none yet, 200 with no
    items and `run_id` null. Any member may read it; a run of another project is a 404,
    a run that did not succeed a 409, and so is one whose rows were dropped (only the
    newest 5 runs that succeeded keep them)."""
    project = projects.get_project(session, user, project_id)
    found = label_issues.page(session, project.id, run_id, limit=limit, offset=offset)
    return LabelIssuesOut(
        items=[LabelIssueOut.model_validate(i, from_attributes=True) for i in found.items],
        total=found.total,
        run_id=found.run_id,
    )
