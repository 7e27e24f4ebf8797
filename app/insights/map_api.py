"""The embedding map's JSON: the points (the API contract), the page's columns, and a
refresh a manager can ask for."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from app.auth.deps import ApiUser
from app.db import SessionDep
from app.insights import embedding_map, map_columns
from app.projects import service as projects
from app.settings_dep import CeleryDep
from app.task_names import EMBEDDING_MAP, QUEUE_OF
from app.tasks import enqueue_after_commit
from app.validation import Id

router = APIRouter(prefix="/projects", tags=["insights"])


class MapPointOut(BaseModel):
    image_id: int
    x: float
    y: float


class EmbeddingMapOut(BaseModel):
    items: list[MapPointOut]
    run_id: int | None = Field(description="The newest succeeded run: the map's colours.")
    waiting: int = Field(description="Embedded images not placed on the map yet.")


class RefreshOut(BaseModel):
    queued: bool


@router.get("/{project_id}/embedding-map", response_model=EmbeddingMapOut)
def get_embedding_map(project_id: Id, session: SessionDep, user: ApiUser) -> EmbeddingMapOut:
    """Every image of the project the worker has laid out, at its 2-D place on the map
    (from its backbone embedding; the units mean nothing, only nearness does). Images
    added later join without moving the others, until a fifth more refits the map.
    `run_id` is the newest succeeded run, which colours the map; null before any. Any
    member may read it."""
    project = projects.get_project(session, user, project_id)
    found = embedding_map.points(session, project)
    return EmbeddingMapOut(
        items=[MapPointOut(image_id=p.image_id, x=p.x, y=p.y) for p in found],
        run_id=embedding_map.newest_run_id(session, project),
        waiting=embedding_map.waiting(session, project),
    )


@router.get("/{project_id}/embedding-map/columns")
def get_embedding_map_columns(
    project_id: Id,
    session: SessionDep,
    user: ApiUser,
    part: Annotated[
        Literal["all", "points", "run"],
        Query(description="points: places and labels; run: the newest run's colours."),
    ] = "all",
) -> Response:
    """The map with what colours it, as columns (row i of each is one image), each a
    base64 string of little-endian numbers of the type `types` names: `image_id`, `x`,
    `y`, `status` (0 unlabeled, 1 labeled, 2 rejected), `label` and `prediction`
    (category ids, -1 for none), `disagrees` (1: the newest run predicts off the label's
    branch), `uncertainty` and `outlier` (0..1, -1 for none); with `count`, `run_id` and
    `waiting`. `part=points` answers `image_id`, `x`, `y`, `status`, `label` (what the
    first paint needs), `part=run` `image_id` and the run's four columns. What the map page
    draws from; any member may read it."""
    project = projects.get_project(session, user, project_id)
    found = map_columns.columns(session, project, part)
    body = json.dumps(found.encoded(), separators=(",", ":"))
    return Response(body, media_type="application/json")


@router.post("/{project_id}/embedding-map/refresh", status_code=202, response_model=RefreshOut)
def refresh_embedding_map(
    project_id: Id, session: SessionDep, user: ApiUser, celery: CeleryDep
) -> RefreshOut:
    """Ask a worker to put every embedded image on the map (after a worker died mid-fit,
    say). It places new images, or refits when they are a fifth of the map or more;
    asking twice does the work once. Managers only."""
    project = projects.get_managed_project(session, user, project_id)
    enqueue_after_commit(
        session, celery, EMBEDDING_MAP, queue=QUEUE_OF[EMBEDDING_MAP], args=[project.id]
    )
    return RefreshOut(queued=True)
