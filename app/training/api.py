"""Training routes: start, list, read, cancel runs; a confusion cell; model downloads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from app.auth.deps import ApiUser
from app.background.outbox import queued_message
from app.db import SessionDep
from app.images.schemas import image_out
from app.projects import service as projects
from app.settings_dep import CeleryDep, SettingsDep
from app.training import download, prediction_queries, predictions, service
from app.training.schemas import (
    CellImage,
    ExportFormat,
    PredictionOut,
    PredictionsOut,
    RunCreate,
    RunCreated,
    RunOut,
)
from app.validation import MAX_ID, Id

router = APIRouter(tags=["training"])


@router.post("/projects/{project_id}/training-runs", response_model=RunCreated, status_code=202)
def start_run(
    project_id: Id, body: RunCreate, session: SessionDep, user: ApiUser, celery: CeleryDep
) -> RunCreated:
    project = projects.get_managed_project(session, user, project_id)
    run = service.start_run(
        session,
        celery,
        project,
        user,
        mode=body.mode,
        level=body.level,
        backbone=body.backbone,
        params=body.params.model_dump(exclude_none=True),
        head=body.head,
    )
    return RunCreated(id=run.id, status=run.status, message=queued_message(run))


@router.get("/projects/{project_id}/training-runs", response_model=list[RunOut])
def list_runs(project_id: Id, session: SessionDep, user: ApiUser) -> list[RunOut]:
    project = projects.get_project(session, user, project_id)
    return [RunOut.model_validate(r) for r in service.list_runs(session, project)]


@router.get("/training-runs/{run_id}", response_model=RunOut)
def get_run(run_id: Id, session: SessionDep, user: ApiUser) -> RunOut:
    return RunOut.model_validate(service.get_run(session, user, run_id))


@router.post("/training-runs/{run_id}/cancel", response_model=RunOut)
def cancel_run(run_id: Id, session: SessionDep, user: ApiUser) -> RunOut:
    run = service.cancel_run(session, service.get_managed_run(session, user, run_id))
    return RunOut.model_validate(run)


@router.get("/training-runs/{run_id}/confusion", response_model=list[CellImage])
def confusion_cell(
    run_id: Id, true_id: Id, predicted_id: Id, session: SessionDep, user: ApiUser
) -> list[CellImage]:
    """The evaluated images whose label is ``true_id`` and prediction ``predicted_id``."""
    run = service.get_run(session, user, run_id)
    return [
        CellImage(id=i.id, filename=i.filename, thumbnail_url=image_out(i).thumbnail_url)
        for i in predictions.cell_images(session, run.id, true_id, predicted_id)
    ]


Confidence = Annotated[float | None, Query(ge=0, le=1)]


@router.get("/projects/{project_id}/predictions", response_model=PredictionsOut)
def list_predictions(
    project_id: Id,
    session: SessionDep,
    user: ApiUser,
    run_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    category_id: Annotated[
        Id | None, Query(description="Predicted as this category or anything under it.")
    ] = None,
    min_confidence: Confidence = None,
    max_confidence: Confidence = None,
    disagrees: Annotated[
        bool,
        Query(
            description="Only labeled images whose prediction is off the label's branch: "
            "neither the label's ancestor at the run's level nor, for a label above that "
            "level, one of its sub-categories."
        ),
    ] = False,
) -> PredictionsOut:
    """One item per image the run predicted (labeled, unlabeled and rejected alike), in
    image id order. Without `run_id`: the latest run that succeeded. A project with no
    such run answers 200 with no items, `total` 0 and `run_id` null. A run of another
    project is a 404; a run that did not succeed, or whose predictions were dropped
    (only the newest 5 successful runs keep them), a 409."""
    project = projects.get_project(session, user, project_id)
    run = prediction_queries.run_for(session, project, run_id)
    found = prediction_queries.page(
        session,
        project,
        run,
        prediction_queries.PredictionFilter(category_id, min_confidence, max_confidence, disagrees),
        limit=limit,
        offset=offset,
    )
    return PredictionsOut(
        items=[PredictionOut.model_validate(i, from_attributes=True) for i in found.items],
        total=found.total,
        run_id=found.run_id,
    )


@router.get(
    "/training-runs/{run_id}/model",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "The model and its JSON."}},
)
def download_model(
    run_id: Id,
    session: SessionDep,
    user: ApiUser,
    settings: SettingsDep,
    format: ExportFormat = "onnx",
) -> StreamingResponse:
    """The trained model: for the project's managers (and admins) only, like an export."""
    run = service.get_managed_run(session, user, run_id)
    return download.model_zip(settings, run, format)
