"""Training pages: the dashboard's training section, a run's results, a confusion cell's
images, and two runs side by side. The forms start and cancel runs; the lists poll
themselves with htmx while a run is queued or running."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.auth.deps import PageUser
from app.auth.models import User
from app.background.outbox import queued_message
from app.db import SessionDep
from app.errors import Conflict, DomainError
from app.images import views as image_views
from app.projects import service as projects
from app.projects.models import Project
from app.settings_dep import CeleryDep
from app.training import page_views, predictions, service
from app.training.models import TrainingRun
from app.training.schemas import RunCreate, RunParams
from app.validation import Id
from app.web.flash import flash
from app.web.forms import FormError, parse_form, parse_form_id, safe_next
from app.web.templates import render

router = APIRouter()

Param = Annotated[str, Query(max_length=100)]
Short = Annotated[str, Field(max_length=100)]
CELL_IMAGES = 200


class TrainForm(BaseModel):
    """The Train form as typed: every field a string, checked by the API's own schemas."""

    model_config = ConfigDict(extra="ignore")

    mode: Short = "linear"
    level: Short = ""
    backbone: Short = ""
    next: Annotated[str, Field(max_length=2000)] = ""
    C: Short = ""
    folds: Short = ""
    epochs: Short = ""
    batch_size: Short = ""
    lr: Short = ""
    backbone_lr: Short = ""
    patience: Short = ""
    val_fraction: Short = ""


PARAM_NAMES = tuple(RunParams.model_fields)
# A new advanced setting in the API needs its field in TrainForm too (a test checks).


def _back(target: str, project: Project) -> str:
    """Where a form returns to: one of this project's pages, else its dashboard."""
    home = f"/projects/{project.id}"
    path = safe_next(target, home)
    return path if path == home or path.startswith(home + "/") else home


def _runs_context(
    session: Session, project: Project, can_manage: bool, here: str
) -> dict[str, Any]:
    # Runs whose worker died are ended by the workers' reaper, not by page views.
    rows = [page_views.run_row(r) for r in service.list_runs(session, project)]
    return {
        "project": project,
        "can_manage": can_manage and not project.archived,
        "rows": rows,
        "active": any(r.active for r in rows),
        "latest": page_views.latest(session, project.id),
        "rankings": page_views.rankings(session, project.id),
        "curve": page_views.curve(session, project.id),
        "here": here,
    }


def _section_context(session: Session, user: User, project: Project, here: str) -> dict[str, Any]:
    can_manage = projects.can_manage(session, user, project)
    return {
        **_runs_context(session, project, can_manage, here),
        "levels": page_views.level_choices(session, project),
        "backbones": page_views.backbone_choices(),
        "param_fields": page_views.PARAM_FIELDS,
        "form": {"backbone": project.backbone},
    }


def _training_page(
    request: Request,
    session: Session,
    user: User,
    project: Project,
    *,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    context = _section_context(session, user, project, f"/projects/{project.id}/training")
    context.update(extra)
    return render(request, "training/page.html", context, user=user, status_code=status_code)


@router.get("/projects/{project_id}/training")
def training_page(
    request: Request, project_id: Id, session: SessionDep, user: PageUser
) -> Response:
    """The training section as a page of its own: what the dashboard shows without htmx."""
    project = projects.get_project(session, user, project_id)
    return _training_page(request, session, user, project)


@router.get("/projects/{project_id}/training/_section")
def training_section(
    request: Request, project_id: Id, session: SessionDep, user: PageUser
) -> Response:
    """The project page's training section, which it loads with htmx."""
    project = projects.get_project(session, user, project_id)
    context = _section_context(session, user, project, f"/projects/{project.id}")
    return render(request, "training/_section.html", context, user=user)


@router.get("/projects/{project_id}/runs/_list")
def runs_partial(
    request: Request,
    project_id: Id,
    session: SessionDep,
    user: PageUser,
    here: Param = "",
) -> Response:
    """The runs, the queue's ranking and the learning curve: what changes as runs go."""
    project = projects.get_project(session, user, project_id)
    context = _runs_context(
        session,
        project,
        projects.can_manage(session, user, project),
        _back(here, project),
    )
    return render(request, "training/_runs.html", context, user=user)


@router.post("/projects/{project_id}/runs")
def start_run(
    request: Request,
    project_id: Id,
    session: SessionDep,
    user: PageUser,
    celery: CeleryDep,
    form: Annotated[TrainForm, Form()],
) -> Response:
    project = projects.get_managed_project(session, user, project_id)
    try:
        typed = {name: v for name in PARAM_NAMES if (v := getattr(form, name).strip())}
        params = parse_form(RunParams, typed)  # a blank field keeps the default
        body = parse_form(
            RunCreate,
            {
                "mode": form.mode.strip() or "linear",
                "level": form.level.strip() or None,
                "backbone": form.backbone.strip() or None,
            },
        )
        run = service.start_run(
            session,
            celery,
            project,
            user,
            mode=body.mode,
            level=body.level,
            backbone=body.backbone,
            params=params.model_dump(exclude_none=True),
        )
    except DomainError as exc:
        session.rollback()
        project = projects.get_project(session, user, project_id)
        return _training_page(
            request,
            session,
            user,
            project,
            error=exc.detail,
            form=form.model_dump(),
            status_code=exc.status_code,
        )
    unsent = queued_message(run)
    flash(
        request,
        f"Queued run #{run.id}: {page_views.MODE_LABELS[run.mode]} at "
        f"{page_views.level_text(run.level)}, on {run.label_count or 0:,} labeled images."
        + (f" {unsent[0].upper()}{unsent[1:]}." if unsent else ""),
        "info" if unsent else "success",
    )
    return RedirectResponse(_back(form.next, project), status_code=303)


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
            raise FormError(f"Tick exactly two runs to compare; you ticked {len(run)}.")
        first, second = sorted(parse_form_id("Run", r[:40]) for r in run)
        target = f"/projects/{project.id}/runs/compare?a={first}&b={second}"
        return RedirectResponse(target, status_code=303)
    _, run_a = page_views.run_in_project(session, user, project.id, parse_form_id("Run a", a))
    _, run_b = page_views.run_in_project(session, user, project.id, parse_form_id("Run b", b))
    context = {"project": project, "cmp": page_views.compare(run_a, run_b)}
    return render(request, "training/compare.html", context, user=user)


def _run_context(
    session: Session, user: User, project: Project, run: TrainingRun
) -> dict[str, Any]:
    manager = projects.can_manage(session, user, project)
    return {
        "project": project,
        "run": run,
        "row": page_views.run_row(run),
        "mode_label": page_views.MODE_LABELS[run.mode],
        "level_label": page_views.level_text(run.level),
        "can_manage": manager and not project.archived,
        # An archived project's models stay downloadable; labelers never get them.
        "can_download": manager,
        "parameters": page_views.parameters(run),
        "report": page_views.report_lines(run),
        "classes": page_views.class_scores(run),
        "confusion": page_views.confusion(run),
        "history": page_views.history(run),
        "best_epoch": (run.metrics or {}).get("best_epoch"),
    }


@router.get("/projects/{project_id}/runs/{run_id}")
def run_page(
    request: Request,
    project_id: Id,
    run_id: Id,
    session: SessionDep,
    user: PageUser,
) -> Response:
    project, run = page_views.run_in_project(session, user, project_id, run_id)
    context = _run_context(session, user, project, run)
    return render(request, "training/run.html", context, user=user)


@router.get("/projects/{project_id}/runs/{run_id}/_body")
def run_body(
    request: Request,
    project_id: Id,
    run_id: Id,
    session: SessionDep,
    user: PageUser,
) -> Response:
    """The run page's body, polled while the run is queued or running."""
    project, run = page_views.run_in_project(session, user, project_id, run_id)
    context = _run_context(session, user, project, run)
    return render(request, "training/_run_body.html", context, user=user)


def _cell_context(
    session: Session, user: User, project_id: int, run_id: int, true_id: int, predicted_id: int
) -> dict[str, Any]:
    project, run = page_views.run_in_project(session, user, project_id, run_id)
    labels = image_views.labels_of(session, project)
    images = predictions.cell_images(session, run.id, true_id, predicted_id, limit=CELL_IMAGES)
    return {
        "project": project,
        "run": run,
        "true_name": page_views.class_name(run, true_id),
        "predicted_name": page_views.class_name(run, predicted_id),
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


@router.post("/projects/{project_id}/runs/{run_id}/cancel")
def cancel_run(
    request: Request,
    project_id: Id,
    run_id: Id,
    session: SessionDep,
    user: PageUser,
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    # The manager check comes first: a labeler gets 403 whichever run they name.
    project = projects.get_managed_project(session, user, project_id)
    _, run = page_views.run_in_project(session, user, project.id, run_id)
    back = _back(next or f"/projects/{project.id}/runs/{run.id}", project)
    try:
        service.cancel_run(session, run)
    except Conflict as exc:
        flash(request, exc.detail, "error")
        return RedirectResponse(back, status_code=303)
    if run.finished:
        flash(request, f"Cancelled run #{run.id}.")
    else:
        flash(request, f"Run #{run.id} stops at its next checkpoint.", "info")
    return RedirectResponse(back, status_code=303)
