"""The saliency map of an image: a PNG once a worker has made it, 202 until then."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel

from app.auth.deps import ApiUser
from app.db import SessionDep
from app.insights import saliency
from app.openapi import ErrorOut
from app.settings_dep import CeleryDep, SettingsDep
from app.validation import Id

router = APIRouter(tags=["insights"])
# A map never changes under its run, image and class; a new run is a new URL.
CACHE = "private, max-age=86400"


class SaliencyPending(BaseModel):
    status: str  # queued, running, or waiting (the run's model files are being written)
    run_id: int | None
    detail: str


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"image/png": {}},
        "description": "The heat map as an RGBA PNG with the picture's proportions: "
        "transparent outside the centre crop the model saw. Header `X-Category-Id` names "
        "the class it explains, `X-Run-Id` the run.",
    },
    202: {
        "model": SaliencyPending,
        "description": "Not made yet: a worker is on it. Ask again after `Retry-After` seconds.",
    },
    409: {
        "model": ErrorOut,
        "description": "The run is not a trained model, has no model files, or the map "
        "could not be made (the reason is given; asking again does not retry).",
    },
    422: {"model": ErrorOut, "description": "The category is not one of the run's classes."},
}


@router.get("/images/{image_id}/saliency", response_class=Response, responses=_RESPONSES)
def image_saliency(
    image_id: Id,
    session: SessionDep,
    user: ApiUser,
    settings: SettingsDep,
    celery: CeleryDep,
    run_id: Id | None = None,
    category_id: Id | None = None,
) -> Response:
    """Grad-CAM of the run's model (default: the latest trained) for the predicted class
    (or `category_id`). Made by a worker on first request, then kept."""
    answer = saliency.request_map(session, celery, settings, user, image_id, run_id, category_id)
    if answer.key is not None and answer.store is not None:
        headers = {"Cache-Control": CACHE, "X-Run-Id": str(answer.run_id)}
        if answer.category_id is not None:
            headers["X-Category-Id"] = str(answer.category_id)
        # Always through the web, never a presigned redirect: the page fetch()es the map,
        # and a bucket's origin would need CORS rules for that. A map is a few kB.
        local = answer.store.local_path(answer.key)
        if local is not None:
            return FileResponse(local, media_type="image/png", headers=headers)
        png = answer.store.get_bytes(answer.key)
        return Response(png, media_type="image/png", headers=headers)
    body = SaliencyPending(status=answer.status, run_id=answer.run_id, detail=answer.detail)
    retry = saliency.RETRY_AFTER if answer.status != "waiting" else 5
    return JSONResponse(
        body.model_dump(),
        status_code=202,
        headers={"Retry-After": str(retry), "Cache-Control": "no-store"},
    )
