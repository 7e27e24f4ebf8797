"""Who is calling: bearer token or session cookie for the API, the cookie for pages.

No `from __future__ import annotations` here: FastAPI must see the real `Depends(base)`
annotation inside `_require`, which a string annotation would hide.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from app.auth import service
from app.auth.models import Role, User
from app.db import SessionDep
from app.errors import Forbidden, Unauthorized
from app.web.csrf import rotate_csrf_token, verify_csrf_header


class LoginRequired(Exception):
    """A page needs a logged-in user; the handler redirects to the login page."""


def _session_user(request: Request, session: SessionDep) -> User | None:
    return service.user_for_session(
        session, request.session.get("uid"), request.session.get("stamp")
    )


def get_api_user(request: Request, session: SessionDep) -> User:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        user = (
            service.user_for_token(session, token.strip()) if scheme.lower() == "bearer" else None
        )
        if user is None:
            raise Unauthorized("Invalid or expired token. Get a new one from /api/v1/auth/token.")
        return user
    user = _session_user(request, session)
    if user is None:
        raise Unauthorized("Not authenticated. Send 'Authorization: Bearer <token>'.")
    # A cookie rides along on cross-site requests; a header set by our own script cannot.
    verify_csrf_header(request)
    return user


def get_page_user(request: Request, session: SessionDep) -> User:
    user = _session_user(request, session)
    if user is None:
        raise LoginRequired
    return user


ApiUser = Annotated[User, Depends(get_api_user)]
PageUser = Annotated[User, Depends(get_page_user)]


def _require(base: Callable[..., User], roles: tuple[Role, ...]) -> Callable[[User], User]:
    def check(user: Annotated[User, Depends(base)]) -> User:
        if user.role not in roles:
            raise Forbidden(f"This needs the role {' or '.join(roles)}; you are {user.role}.")
        return user

    return check


ApiAdmin = Annotated[User, Depends(_require(get_api_user, (Role.admin,)))]
PageAdmin = Annotated[User, Depends(_require(get_page_user, (Role.admin,)))]


def start_login_session(request: Request, user: User) -> None:
    request.session.clear()
    request.session["uid"] = user.id
    request.session["stamp"] = user.security_stamp
    rotate_csrf_token(request)


def end_login_session(request: Request) -> None:
    request.session.clear()
