"""Import pages: a project's imports, one import, and labels from a file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app.auth.deps import PageUser
from app.db import SessionDep
from app.images import service as images
from app.images.models import BatchStatus
from app.imports import labels_csv
from app.projects import service as projects
from app.validation import Id
from app.web.flash import flash
from app.web.templates import render

router = APIRouter()

RECENT_IMPORTS = 10
# An import in these states still changes: its pages poll until it settles.
ACTIVE = (BatchStatus.queued, BatchStatus.running)


def _imports(
    request: Request,
    session: SessionDep,
    user: PageUser,
    project_id: int,
    template: str,
    limit: int,
) -> Response:
    project = projects.get_project(session, user, project_id)
    batches = images.list_batches(session, project.id, limit=limit)
    context = {
        "project": project,
        "batches": batches,
        "active": any(b.status in ACTIVE for b in batches),
        "limit": limit,
    }
    return render(request, template, context, user=user)


@router.get("/projects/{project_id}/imports/_list")
def imports_partial(
    request: Request, project_id: Id, session: SessionDep, user: PageUser
) -> Response:
    return _imports(request, session, user, project_id, "imports/_imports.html", RECENT_IMPORTS)


@router.get("/projects/{project_id}/imports")
def imports_page(request: Request, project_id: Id, session: SessionDep, user: PageUser) -> Response:
    return _imports(request, session, user, project_id, "imports/imports.html", 100)


@router.get("/imports/{batch_id}")
def import_page(request: Request, batch_id: Id, session: SessionDep, user: PageUser) -> Response:
    project, batch = images.get_batch(session, user, batch_id)
    session.refresh(batch)
    issues = images.batch_issues(session, batch.id)
    context = {
        "project": project,
        "batch": batch,
        "active": batch.status in ACTIVE,
        "duplicates": [i for i in issues if i.duplicate_of_id is not None],
        "errors": [i for i in issues if i.error is not None],
        "issues_cut": len(issues) >= 1000,
    }
    return render(request, "imports/import.html", context, user=user)


@router.post("/projects/{project_id}/labels-csv")
def labels_from_csv(
    request: Request,
    project_id: Id,
    session: SessionDep,
    user: PageUser,
    file: Annotated[UploadFile, File()],
) -> Response:
    project = projects.get_managed_project(session, user, project_id)
    result = labels_csv.apply(session, project, user.id, file.file.read(labels_csv.MAX_BYTES + 1))
    message = (
        f"Labels from {file.filename or 'the CSV'}: {result.applied} applied, "
        f"{result.unchanged} unchanged, {len(result.errors)} errors."
    )
    shown = "; ".join(f"line {line}: {error}" for line, error in result.errors[:5])
    flash(request, f"{message} {shown}" if shown else message)
    return RedirectResponse(f"/projects/{project.id}", status_code=303)
