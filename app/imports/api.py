"""Import routes: uploads (at once or as a job), import jobs, labels files."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile

from app.auth.deps import ApiUser
from app.background.outbox import queued_message
from app.db import SessionDep
from app.images import service as images
from app.images.models import ImportBatch
from app.imports import labels_csv, uploads
from app.imports.schemas import (
    Duplicate,
    FileError,
    Imported,
    ImportJobDetail,
    ImportJobOut,
    LabelsCsvResult,
    LineError,
    UploadResult,
)
from app.projects import service as projects
from app.settings_dep import SettingsDep
from app.validation import Id

router = APIRouter(tags=["imports"])
# The upload route takes bodies up to CURATOR_MAX_UPLOAD_BYTES (app.web.middleware).
UPLOAD_PATHS = re.compile(r"^(/api/v1)?/projects/[0-9]+/(images|labels-csv)$")


def job_detail(session: SessionDep, batch: ImportBatch) -> ImportJobDetail:
    issues = images.batch_issues(session, batch.id)
    return ImportJobDetail.model_validate(
        {
            **ImportJobOut.model_validate(batch).model_dump(),
            "duplicate_files": [
                Duplicate(filename=i.filename, duplicate_of=i.duplicate_of_id)
                for i in issues
                if i.duplicate_of_id is not None
            ],
            "error_files": [
                FileError(filename=i.filename, error=i.error) for i in issues if i.error is not None
            ],
        }
    )


@router.post(
    "/projects/{project_id}/images",
    response_model=UploadResult,
    responses={202: {"model": UploadResult, "description": "Queued as a background job."}},
)
def upload_images(
    project_id: Id,
    files: Annotated[
        list[UploadFile],
        File(
            description="Images, or zips of images. A labels file at a zip's root (an "
            "export's labels.csv, or a COCO json such as annotations.json) labels its images."
        ),
    ],
    session: SessionDep,
    user: ApiUser,
    settings: SettingsDep,
    request: Request,
    response: Response,
    labels_from_folders: Annotated[
        bool, Form(description="Label zipped files by their folders (ImageFolder layout).")
    ] = False,
    mode: Annotated[
        Literal["auto", "sync", "background"],
        Query(
            description="auto: a background job when there are more files than "
            "CURATOR_SYNC_IMPORT_MAX_FILES."
        ),
    ] = "auto",
) -> UploadResult:
    project = projects.get_managed_project(session, user, project_id)
    items = [uploads.Upload(f.filename or "upload", f.file) for f in files]
    background = mode == "background" or (
        mode == "auto" and uploads.count_files(items) > settings.sync_import_max_files
    )
    if background:
        batch = uploads.start_job(
            session,
            settings,
            request.app.state.celery,
            project,
            user.id,
            items,
            labels_from_folders=labels_from_folders,
        )
        response.status_code = 202
        return UploadResult(
            imported=[],
            duplicates=[],
            errors=[],
            batch_id=batch.id,
            job=ImportJobOut.model_validate(batch),
            message=queued_message(batch),
        )
    batch, summary = uploads.import_now(
        session,
        settings,
        project,
        user.id,
        items,
        labels_from_folders=labels_from_folders,
        celery=request.app.state.celery,
    )
    return UploadResult(
        imported=[Imported(id=i, filename=n) for i, n in summary.imported],
        duplicates=[Duplicate(filename=n, duplicate_of=i) for n, i in summary.duplicates],
        errors=[FileError(filename=n, error=e) for n, e in summary.errors],
        batch_id=batch.id,
    )


@router.get("/projects/{project_id}/imports", response_model=list[ImportJobOut])
def list_imports(project_id: Id, session: SessionDep, user: ApiUser) -> list[ImportBatch]:
    project = projects.get_project(session, user, project_id)
    return images.list_batches(session, project.id, limit=100)


@router.get("/imports/{batch_id}", response_model=ImportJobDetail)
def get_import(batch_id: Id, session: SessionDep, user: ApiUser) -> ImportJobDetail:
    batch = images.get_batch(session, user, batch_id)[1]
    session.refresh(batch)
    return job_detail(session, batch)


@router.post("/projects/{project_id}/labels-csv", response_model=LabelsCsvResult)
def upload_labels_csv(
    project_id: Id,
    file: Annotated[
        UploadFile,
        File(
            description="A labels file: CSV rows filename,category_path; a CSV export's "
            "labels.csv (matched on its sha256 column); or a COCO json (images, annotations, "
            "categories; matched on sha256 where given, else file_name)."
        ),
    ],
    session: SessionDep,
    user: ApiUser,
) -> LabelsCsvResult:
    """Label images already imported; categories are created from the paths.

    Each error names its CSV line; for a COCO json, `line` is the entry's position in its
    list, and the error says which list ("annotation #3: ...").
    """
    project = projects.get_managed_project(session, user, project_id)
    # One byte over the limit is enough for apply() to refuse it.
    data = file.file.read(labels_csv.MAX_BYTES + 1)
    result = labels_csv.apply(session, project, user.id, data)
    return LabelsCsvResult(
        applied=result.applied,
        unchanged=result.unchanged,
        errors=[LineError(line=n, error=e) for n, e in result.errors],
    )
