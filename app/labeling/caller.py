"""Who calls the hot labeling routes, and the project or image they name, in one query.

``queue/next`` and ``POST annotations`` are most of a labeling team's requests. With a
bearer token, the token's lookup, the user, the project (or the image and its project)
and the caller's membership come back in one round trip instead of two. The answers
stay those of ``get_api_user`` then ``projects.get_project`` / ``images.get_image``:
401 for a bad token before anything else, then (in the route, after its parameters are
validated, as before) 404 for a project the caller may not see. A browser's cookie, or
a path id that would fail validation, takes the ordinary path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import Executable, Select, bindparam, select
from sqlalchemy.orm import Session

from app.auth.deps import bearer_digest, get_api_user, token_holder
from app.auth.models import ApiToken, User
from app.db import SessionDep
from app.errors import NotFound
from app.images import service as images
from app.images.models import Image
from app.labeling.prepared import prepared
from app.projects import service as projects
from app.projects.models import Membership, Project, ProjectRole
from app.validation import MAX_ID


def _path_id(request: Request, name: str) -> int | None:
    raw = request.path_params.get(name)
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def _visible(user: User, project: Project | None, member: object) -> Project | None:
    if project is None or not (projects.sees_everything(user) or member is not None):
        return None
    return project


def _project_query() -> Select[User, datetime, Project, ProjectRole]:
    return (
        select(User, ApiToken.expires_at, Project, Membership.role)
        .select_from(ApiToken)
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(Project, Project.id == bindparam("project_id"))
        .outerjoin(
            Membership, (Membership.project_id == Project.id) & (Membership.user_id == User.id)
        )
        .where(ApiToken.token_hash == bindparam("digest"))
    )


def _image_query() -> Select[User, datetime, Project, Image, ProjectRole]:
    return (
        select(User, ApiToken.expires_at, Project, Image, Membership.role)
        .select_from(ApiToken)
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(Image, Image.id == bindparam("image_id"))
        .outerjoin(Project, Project.id == Image.project_id)
        .outerjoin(
            Membership,
            (Membership.project_id == Image.project_id) & (Membership.user_id == User.id),
        )
        .where(ApiToken.token_hash == bindparam("digest"))
    )


@dataclass(frozen=True)
class ProjectCall:
    user: User
    found: Project | None  # with a token: the project if visible, else None
    folded: bool  # the lookup ran with the token's (else: call get_project)

    def project(self, session: Session, project_id: int) -> Project:
        if not self.folded:
            return projects.get_project(session, self.user, project_id)
        if self.found is None:
            raise NotFound(f"No project with id {project_id}.")
        return self.found


def _folded(
    request: Request, session: Session, name: str, build: Callable[[], Executable]
) -> tuple[User, Any] | None:
    """The token's holder and the folded lookup's row (or None), keyed by the path's
    ``name``; None when there is no bearer token or the id would fail validation."""
    digest = bearer_digest(request)
    key = _path_id(request, name)
    if digest is None or key is None:
        return None
    row = session.execute(prepared(f"caller.{name}", build), {"digest": digest, name: key}).first()
    return token_holder(*(row[:2] if row is not None else (None, None))), row


def project_caller(request: Request, session: SessionDep) -> ProjectCall:
    looked = _folded(request, session, "project_id", _project_query)
    if looked is None:
        return ProjectCall(get_api_user(request, session), None, False)
    user, row = looked
    return ProjectCall(user, _visible(user, row[2], row[3]) if row else None, True)


@dataclass(frozen=True)
class ImageCall:
    user: User
    found: tuple[Project, Image] | None
    folded: bool

    def image(self, session: Session, image_id: int) -> tuple[Project, Image]:
        if not self.folded:
            return images.get_image(session, self.user, image_id)
        if self.found is None:
            raise NotFound(f"No image with id {image_id}.")
        return self.found


def image_caller(request: Request, session: SessionDep) -> ImageCall:
    looked = _folded(request, session, "image_id", _image_query)
    if looked is None:
        return ImageCall(get_api_user(request, session), None, False)
    user, row = looked
    found = None
    if row is not None and row[3] is not None and _visible(user, row[2], row[4]) is not None:
        found = (row[2], row[3])
    return ImageCall(user, found, True)
