from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.auth.deps import ApiUser
from app.blobs import open_store
from app.db import SessionDep
from app.images import duplicates, service
from app.images.files import serve
from app.images.models import ImageStatus
from app.images.schemas import (
    DuplicateGroup,
    DuplicateGroupPage,
    ImageOut,
    ImagePage,
    image_out,
)
from app.images.storage import NEEDS_DISPLAY, ImageStore
from app.projects import service as projects
from app.settings_dep import SettingsDep
from app.validation import Id

router = APIRouter(tags=["images"])
MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
        "bmp": "image/bmp", "tiff": "image/tiff"}  # fmt: skip


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


_FILE: dict[int | str, dict[str, Any]] = {
    200: {"description": "The bytes (a single Range is honoured: 206, or 416)."},
    302: {"description": "With CURATOR_STORAGE_REDIRECT on an s3:// store: a short-lived "
          "presigned URL of the bytes."},
}  # fmt: skip


@router.get(
    "/images/{image_id}/file",
    response_class=Response,
    responses={**_FILE, 200: {"description": "The original bytes, as uploaded."}},
)
def image_file(
    image_id: Id, request: Request, session: SessionDep, user: ApiUser, settings: SettingsDep
) -> Response:
    image = service.get_image(session, user, image_id)[1]
    store = ImageStore(open_store(settings))
    key = store.original_key(image.sha256)
    return serve(request, settings, store.store, key, MIME[image.format], f"image {image.id}")


@router.get(
    "/images/{image_id}/display",
    response_class=Response,
    responses={
        **_FILE,
        200: {
            "description": "The image as a browser can show it: the original, "
            "or a PNG rendition for formats browsers cannot display (TIFF)."
        },
    },
)
def image_display(
    image_id: Id, request: Request, session: SessionDep, user: ApiUser, settings: SettingsDep
) -> Response:
    image = service.get_image(session, user, image_id)[1]
    store = ImageStore(open_store(settings))
    if image.format in NEEDS_DISPLAY:
        key, mime = store.display_key(image.sha256), "image/png"
    else:
        key, mime = store.original_key(image.sha256), MIME[image.format]
    return serve(request, settings, store.store, key, mime, f"image {image.id}")


@router.get(
    "/images/{image_id}/thumbnail",
    response_class=Response,
    responses={
        **_FILE,
        200: {"description": "A JPEG (or WebP with transparency), at most 256 px."},
    },
)
def image_thumbnail(
    image_id: Id, request: Request, session: SessionDep, user: ApiUser, settings: SettingsDep
) -> Response:
    image = service.get_image(session, user, image_id)[1]
    store = ImageStore(open_store(settings))
    key = store.thumbnail_key(image.sha256, image.thumbnail_mime)
    return serve(request, settings, store.store, key, image.thumbnail_mime, f"image {image.id}")


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
