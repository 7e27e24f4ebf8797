"""Training pages: the dashboard's training section and the training page, with the
forms that start and cancel runs; the lists poll themselves with htmx while a run is
queued or running. A run's own pages are in ``run_pages``, joined to this router."""

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
from app.projects import service as projects
from app.projects.models import Project
from app.settings_dep import CeleryDep
from app.training import curve, run_pages, section, service
from app.training.formats import MODE_LABELS, level_text, ranking_text
from app.training.schemas import RunCreate, RunParams
from app.validation import Id
from app.web.flash import flash
from app.web.forms import parse_form, safe_next
from app.web.templates import render

router = APIRouter()

Param = Annotated[str, Query(max_length=100)]
Short = Annotated[str, Field(max_length=100)]


class TrainForm(BaseModel):
    """The Train form as typed: every field a string, checked by the API's own schemas."""

    model_config = ConfigDict(extra="ignore")

    mode: Short = "linear"
    level: Short = ""
    backbone: Short = ""
    head: Short = ""
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
    rows = [section.run_row(r) for r in service.list_runs(session, project)]
    return {
        "project": project,
        "can_manage": can_manage and not project.archived,
        "rows": rows,
        "active": any(r.active for r in rows),
        "latest": section.latest(service.latest_models(session, project.id, 2)),
        # Only the ranking the queue follows: other strategies' (a labeler's own pick)
        # read as a second, conflicting "Queue ranked by" line.
        "rankings": [
            r
            for r in section.rankings(session, project.id)
            if r.strategy == project.default_strategy
        ],
        "unranked": ranking_text(project.default_strategy, None, None),
        "curve": curve.curve(service.measured_runs(session, project.id, curve.CURVE_RUNS)),
        "here": here,
    }


def _section_context(session: Session, user: User, project: Project, here: str) -> dict[str, Any]:
    can_manage = projects.can_manage(session, user, project)
    return {
        **_runs_context(session, project, can_manage, here),
        "levels": section.level_choices(session, project),
        "backbones": section.backbone_choices(),
        "heads": section.HEAD_CHOICES,
        "param_fields": section.PARAM_FIELDS,
        "form": {"backbone": project.backbone, "head": "logreg"},
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
                "head": form.head.strip() or None,
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
            head=body.head,
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
        f"Queued run #{run.id}: {MODE_LABELS[run.mode]} at "
        f"{level_text(run.level)}, on {run.label_count or 0:,} labeled images."
        + (f" {unsent[0].upper()}{unsent[1:]}." if unsent else ""),
        "info" if unsent else "success",
    )
    return RedirectResponse(_back(form.next, project), status_code=303)


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
    _, run = service.run_in_project(session, user, project.id, run_id)
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


# After this module's routes: "/runs/_list" must be tried before "/runs/{run_id}".
router.include_router(run_pages.router)
