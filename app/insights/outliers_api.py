"""``GET /api/v1/projects/{pid}/outliers``: the odd pictures, most atypical first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.deps import ApiUser
from app.db import SessionDep
from app.insights import outliers
from app.insights.outlier_schemas import OutlierOut, OutliersOut
from app.projects import service as projects
from app.validation import MAX_ID, Id

router = APIRouter(prefix="/projects", tags=["insights"])


@router.get("/{project_id}/outliers", response_model=OutliersOut)
def list_outliers(
    project_id: Id,
    session: SessionDep,
    user: ApiUser,
    run_id: Annotated[
        Id | None, Query(description="A succeeded run of the project; default the newest.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> OutliersOut:
    """Every picture the run scored (labeled, unlabeled and rejected alike: all that had
    an embedding), most atypical first. The score combines how far a picture lies from
    the nearest labeled category and how few close neighbours it has among all the
    project's pictures, so a batch of similar odd pictures (twenty blank frames) does not
    hide itself. Without `run_id`: the newest run with scores; with none yet, 200 with no
    items and `run_id` null. Any member may read it; a run of another project is a 404,
    a run that did not succeed a 409, and so is one whose rows were dropped (only the
    newest 5 runs that succeeded keep them)."""
    project = projects.get_project(session, user, project_id)
    found = outliers.page(session, project.id, run_id, limit=limit, offset=offset)
    return OutliersOut(
        items=[OutlierOut.model_validate(i, from_attributes=True) for i in found.items],
        total=found.total,
        run_id=found.run_id,
    )
