"""A run's own pages: its results, a confusion cell's images, and two runs side by side.
They only read; ``pages`` holds the section, the forms and the router they join."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.auth.deps import PageUser
from app.auth.models import User
from app.config import Settings
from app.db import SessionDep
from app.images.labels_view import labels_of
from app.projects import service as projects
from app.projects.models import Project
from app.settings_dep import SettingsDep
from app.training import (
    compare,
    download,
    overfitting,
    predictions,
    run_report,
    section,
    service,
)
from app.training.epoch_chart import epoch_chart
from app.training.formats import MODE_LABELS, level_text
from app.training.models import TrainingRun
from app.validation import Id
from app.web.forms import parse_form_id
from app.web.templates import render

router = APIRouter()

Param = Annotated[str, Query(max_length=100)]
CELL_IMAGES = 200


@router.get("/projects/{project_id}/runs/compare")
def compare_page(
    request: Request,
    project_id: Id,
    session: SessionDep,
    user: PageUser,
    a: Param = "",
    b: Param = "",
    run: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """Two runs side by side; the runs list's ticked boxes arrive as ``run`` twice."""
    project = projects.get_project(session, user, project_id)
    if run is not None and not (a or b):
        if len(run) != 2:
            # A page of its own, not the generic error page: it leads back to the runs.
            message = f"Tick exactly two runs to compare; you ticked {len(run)}."
            context = {"project": project, "message": message}
            return render(
                request, "training/compare_pick.html", context, user=user, status_code=400
            )
        first, second = sorted(parse_form_id("Run", r[:40]) for r in run)
        target = f"/projects/{project.id}/runs/compare?a={first}&b={second}"
        return RedirectResponse(target, status_code=303)
    _, run_a = service.run_in_project(session, user, project.id, parse_form_id("Run a", a))
    _, run_b = service.run_in_project(session, user, project.id, parse_form_id("Run b", b))
    context = {"project": project, "cmp": compare.compare(run_a, run_b)}
    return render(request, "training/compare.html", context, user=user)


def _run_context(
    session: Session, settings: Settings, user: User, project: Project, run: TrainingRun
) -> dict[str, Any]:
    manager = projects.can_manage(session, user, project)
    metrics = run.run_metrics
    return {
        "project": project,
        "run": run,
        "row": section.run_row(run),
        "mode_label": MODE_LABELS[run.mode],
        "level_label": level_text(run.level),
        "can_manage": manager and not project.archived,
        # An archived project's models stay downloadable; labelers never get them.
        "can_download": manager,
        "refused": download.refusals(settings, run) if manager else {},
        "parameters": run_report.parameters(run),
        "report": run_report.report_lines(run),
        "classes": run_report.class_scores(metrics),
        "confusion": run_report.confusion(run, metrics),
        "history": run_report.history(metrics),
        "best_epoch": metrics.best_epoch,
        "epoch_chart": epoch_chart(metrics),
        "overfitting": overfitting.warnings(metrics),
        "augmentation": run_report.augmentation(run),
        "held_out_test": run_report.held_out_test(metrics),
    }


@router.get("/projects/{project_id}/runs/{run_id}")
def run_page(
    request: Request,
    project_id: Id,
    run_id: Id,
    session: SessionDep,
    settings: SettingsDep,
    user: PageUser,
) -> Response:
    project, run = service.run_in_project(session, user, project_id, run_id)
    context = _run_context(session, settings, user, project, run)
    return render(request, "training/run.html", context, user=user)


@router.get("/projects/{project_id}/runs/{run_id}/_body")
def run_body(
    request: Request,
    project_id: Id,
    run_id: Id,
    session: SessionDep,
    settings: SettingsDep,
    user: PageUser,
) -> Response:
    """The run page's body, polled while the run is queued or running."""
    project, run = service.run_in_project(session, user, project_id, run_id)
    context = _run_context(session, settings, user, project, run)
    return render(request, "training/_run_body.html", context, user=user)


def _cell_context(
    session: Session, user: User, project_id: int, run_id: int, true_id: int, predicted_id: int
) -> dict[str, Any]:
    project, run = service.run_in_project(session, user, project_id, run_id)
    labels = labels_of(session, project)
    images = predictions.cell_images(session, run.id, true_id, predicted_id, limit=CELL_IMAGES)
    return {
        "project": project,
        "run": run,
        "true_name": run_report.class_name(run, true_id),
        "predicted_name": run_report.class_name(run, predicted_id),
        "predicted_id": predicted_id,  # the class a cell's saliency maps explain
        "tiles": [labels.tile(i) for i in images],
        "limit": CELL_IMAGES,
    }


@router.get("/projects/{project_id}/runs/{run_id}/cell")
def cell_page(
    request: Request,
    project_id: Id,
    run_id: Id,
    true_id: Id,
    predicted_id: Id,
    session: SessionDep,
    user: PageUser,
) -> Response:
    """The evaluated images of one confusion-matrix cell, as a page of thumbnails."""
    context = _cell_context(session, user, project_id, run_id, true_id, predicted_id)
    return render(request, "training/cell.html", context, user=user)


@router.get("/projects/{project_id}/runs/{run_id}/_cell")
def cell_panel(
    request: Request,
    project_id: Id,
    run_id: Id,
    true_id: Id,
    predicted_id: Id,
    session: SessionDep,
    user: PageUser,
) -> Response:
    """The same thumbnails as a panel under the matrix, loaded with htmx."""
    context = _cell_context(session, user, project_id, run_id, true_id, predicted_id)
    return render(request, "training/_cell.html", context, user=user)
