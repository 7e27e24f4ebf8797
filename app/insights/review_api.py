"""The odd-pictures queue's "keep" (``POST .../dismissals``) and its undo (``DELETE``).

Like the queue itself, a project manager's (admins too): other members get 403, and to
anyone else the image does not exist (404).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from app.auth.deps import ApiUser
from app.auth.models import User
from app.db import SessionDep
from app.errors import Forbidden
from app.images import service as images
from app.images.models import Image
from app.insights import dismissals
from app.projects import service as projects
from app.projects.models import Project
from app.settings_dep import SettingsDep
from app.validation import Id

router = APIRouter(tags=["insights"])

DismissalQueue = Literal["odd_pictures"]


class DismissalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queue: DismissalQueue


class DismissalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    image_id: int
    queue: DismissalQueue
    user_id: int | None
    created_at: datetime


def _managed_image(session: Session, user: User, image_id: int) -> tuple[Project, Image]:
    project, image = images.get_image(session, user, image_id)
    if not projects.can_manage(session, user, project):
        raise Forbidden("Only this project's managers review its odd pictures.")
    return project, image


@router.post(
    "/images/{image_id}/dismissals",
    response_model=DismissalOut,
    status_code=201,
    responses={200: {"description": "The image was kept already; that first keep stands."}},
)
def keep_image(
    image_id: Id, body: DismissalIn, session: SessionDep, user: ApiUser, response: Response
) -> DismissalOut:
    """Keep the picture: the odd-pictures queue does not ask about it again."""
    project, image = _managed_image(session, user, image_id)
    row, made = dismissals.keep(session, project, image, user.id, body.queue)
    if not made:
        response.status_code = 200
    return DismissalOut.model_validate(row)


@router.delete("/images/{image_id}/dismissals", status_code=204)
def take_back_keep(
    image_id: Id,
    queue: DismissalQueue,
    session: SessionDep,
    user: ApiUser,
    settings: SettingsDep,
) -> Response:
    """Undo a keep (204 whether or not there was one): the picture may be asked again,
    and is leased to the caller again, whose screen shows it again."""
    project, image = _managed_image(session, user, image_id)
    dismissals.take_back(session, project, image, user.id, settings.lease_seconds)
    return Response(status_code=204)
