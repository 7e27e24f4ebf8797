from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse

from app.auth.deps import ApiUser
from app.background.outbox import queued_message
from app.db import SessionDep
from app.images import duplicates, labels_csv, service, uploads
from app.images.decode import NEEDS_DISPLAY
from app.images.models import ImageStatus, ImportBatch
from app.images.schemas import (
    Duplicate,
    DuplicateGroup,
    DuplicateGroupPage,
    FileError,
    ImageOut,
    ImagePage,
    Imported,
    ImportJobDetail,
    ImportJobOut,
    KeepOne,
    KeepResult,
    LabelsCsvResult,
    LineError,
    UploadResult,
    image_out,
)
from app.images.storage import ImageStore
from app.projects import service as projects
from app.settings_dep import SettingsDep
from app.validation import Id

router = APIRouter(tags=["images"])
# The upload route takes bodies up to CURATOR_MAX_UPLOAD_BYTES (app.web.middleware).
UPLOAD_PATHS = re.compile(r"^(/api/v1)?/projects/[0-9]+/(images|labels-csv)$")
MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
        "bmp": "image/bmp", "tiff": "image/tiff"}  # fmt: skip
# Content never changes under an image id: browsers may keep it for good.
IMMUTABLE = {"Cache-Control": "private, max-age=31536000, immutable"}


def job_detail(session: SessionDep, batch: ImportBatch) -> ImportJobDetail:
    issues = service.batch_issues(session, batch.id)
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


@router.get("/projects/{project_id}/images", response_model=ImagePage)
def list_images(
    project_id: Id,
    session: SessionDep,
    user: ApiUser,
    status: ImageStatus | None = None,
    category_id: Id | None = None,
    batch_id: Id | None = None,
    group_id: Id | None = None,
    duplicates_only: bool = False,
    sort: service.Sort = "newest",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ImagePage:
    project = projects.get_project(session, user, project_id)
    f = service.ImageFilter(status, category_id, batch_id, group_id, duplicates_only)
    images, total = service.list_images(session, project, f, sort=sort, limit=limit, offset=offset)
    return ImagePage(items=[image_out(i) for i in images], total=total, limit=limit, offset=offset)


@router.get("/images/{image_id}", response_model=ImageOut)
def get_image(image_id: Id, session: SessionDep, user: ApiUser) -> ImageOut:
    return image_out(service.get_image(session, user, image_id)[1])


@router.get(
    "/images/{image_id}/file",
    response_class=FileResponse,
    responses={200: {"description": "The original bytes, as uploaded."}},
)
def image_file(
    image_id: Id, session: SessionDep, user: ApiUser, settings: SettingsDep
) -> FileResponse:
    image = service.get_image(session, user, image_id)[1]
    return _stored(ImageStore(settings.data_dir).original_path(image.sha256), MIME[image.format])


@router.get(
    "/images/{image_id}/display",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The image as a browser can show it: the original, "
            "or a PNG rendition for formats browsers cannot display (TIFF)."
        }
    },
)
def image_display(
    image_id: Id, session: SessionDep, user: ApiUser, settings: SettingsDep
) -> FileResponse:
    image = service.get_image(session, user, image_id)[1]
    store = ImageStore(settings.data_dir)
    if image.format in NEEDS_DISPLAY:
        return _stored(store.display_path(image.sha256), "image/png")
    return _stored(store.original_path(image.sha256), MIME[image.format])


@router.get(
    "/images/{image_id}/thumbnail",
    response_class=FileResponse,
    responses={200: {"description": "A JPEG (or WebP with transparency), at most 256 px."}},
)
def image_thumbnail(
    image_id: Id, session: SessionDep, user: ApiUser, settings: SettingsDep
) -> FileResponse:
    image = service.get_image(session, user, image_id)[1]
    store = ImageStore(settings.data_dir)
    return _stored(store.thumbnail_path(image.sha256, image.thumbnail_mime), image.thumbnail_mime)


def _stored(path: Path, mime: str) -> FileResponse:
    return FileResponse(path, media_type=mime, headers=IMMUTABLE)


@router.get("/projects/{project_id}/imports", response_model=list[ImportJobOut])
def list_imports(project_id: Id, session: SessionDep, user: ApiUser) -> list[ImportBatch]:
    project = projects.get_project(session, user, project_id)
    return service.list_batches(session, project.id, limit=100)


@router.get("/imports/{batch_id}", response_model=ImportJobDetail)
def get_import(batch_id: Id, session: SessionDep, user: ApiUser) -> ImportJobDetail:
    batch = service.get_batch(session, user, batch_id)[1]
    session.refresh(batch)
    return job_detail(session, batch)


@router.get("/projects/{project_id}/duplicate-groups", response_model=DuplicateGroupPage)
def list_duplicate_groups(
    project_id: Id,
    session: SessionDep,
    user: ApiUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DuplicateGroupPage:
    project = projects.get_project(session, user, project_id)
    groups = duplicates.list_groups(session, project.id, limit, offset)
    return DuplicateGroupPage(
        items=[
            DuplicateGroup(id=g[0].dup_group_id or 0, images=[image_out(i) for i in g])
            for g in groups
        ],
        total=duplicates.count_groups(session, project.id),
    )


@router.post("/projects/{project_id}/duplicate-groups/{group_id}/keep", response_model=KeepResult)
def keep_duplicate(
    project_id: Id, group_id: Id, body: KeepOne, session: SessionDep, user: ApiUser
) -> KeepResult:
    project = projects.get_project(session, user, project_id)
    image = duplicates.image_in_group(session, project, group_id, body.image_id)
    return KeepResult(kept=image.id, rejected=duplicates.keep_one(session, image, user.id))


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
