from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BeforeValidator
from sqlalchemy.orm import Session, sessionmaker

from app.auth.deps import ApiUser
from app.blobs import open_store
from app.db import SessionDep
from app.exports import service, writers
from app.exports.options import DEFAULT_RATIOS, ExportOptions, Format, make_options
from app.images.storage import ImageStore
from app.projects import service as projects
from app.projects.models import Project
from app.settings_dep import SettingsDep
from app.taxonomy.service import check_level, load_tree
from app.validation import Id

router = APIRouter(tags=["exports"])


@router.get(
    "/projects/{project_id}/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The export, a zip."}},
)
def export_project(
    project_id: Id,
    request: Request,
    session: SessionDep,
    user: ApiUser,
    settings: SettingsDep,
    format: Annotated[Format, Query(description="imagefolder, csv or coco.")] = "imagefolder",
    level: Annotated[
        int | None,
        Query(ge=1, le=100, description="1 = the roots; deeper labels roll up to this level."),
        # An HTML form without JavaScript sends an empty field: the same as leaving it out.
        BeforeValidator(lambda v: None if v == "" else v),
    ] = None,
    split: Annotated[bool, Query(description="Add a stratified train/val/test split.")] = False,
    ratios: Annotated[
        str, Query(max_length=100, description="train,val,test: three numbers summing to 1.")
    ] = DEFAULT_RATIOS,
    seed: Annotated[int, Query(ge=-(2**63), le=2**63 - 1)] = 0,
    images: Annotated[bool, Query(description="csv and coco: include the image files.")] = True,
) -> StreamingResponse:
    """A zip with the project's labeled images (never the rejected) and manifest.json.

    The whole dataset leaves with it: only the project's managers (and admins) export."""
    project = projects.get_managed_project(session, user, project_id)
    options = make_options(format, level, split, ratios, seed, images)
    check_level(load_tree(session, project), options.level)
    name = writers.download_name(project, options)
    body = _body(request.app.state.sessionmaker, ImageStore(open_store(settings)), project, options)
    return StreamingResponse(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _body(
    sessions: sessionmaker[Session], store: ImageStore, project: Project, options: ExportOptions
) -> Iterator[bytes]:
    # Its own session: the request's is committed and closed before the body streams.
    with sessions() as session:
        current = session.get_one(Project, project.id)
        plan = service.build_plan(session, current, options)
        yield from writers.stream_export(session, plan, store)
