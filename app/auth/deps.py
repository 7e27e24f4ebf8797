"""Who is calling: bearer token or session cookie for the API, the cookie for pages.

No `from __future__ import annotations` here: FastAPI must see the real `Depends(base)`
annotation inside `_require`, which a string annotation would hide.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from app.auth import credentials
from app.auth.models import Role, User
from app.config import Settings
from app.db import SessionDep, utcnow
from app.errors import Forbidden, LoginRequired, Unauthorized
from app.web.csrf import rotate_csrf_token, verify_csrf_header

# The signed cookie holds only this key's value among credentials: a random secret
# naming a row of login_sessions, so that deleting the row ends the session.
SESSION_KEY = "sid"
INVALID_TOKEN = "Invalid or expired token. Get a new one from /api/v1/auth/token."  # noqa: S105 - a message


def _session_user(request: Request, session: SessionDep) -> User | None:
    settings: Settings = request.app.state.settings
    return credentials.user_for_session(
        session, request.session.get(SESSION_KEY), max_age=settings.session_max_age
    )


def user_for_error_page(request: Request) -> User | None:
    """The logged-in user for an error page's navigation (installed by create_app into
    app.web.errors, which sits below auth); it opens its own session, since the request's
    may be the failure being shown."""
    with request.app.state.sessionmaker() as session:
        return credentials.user_for_session(session, request.session.get(SESSION_KEY))


def get_api_user(request: Request, session: SessionDep) -> User:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        user = (
            credentials.user_for_token(session, token.strip())
            if scheme.lower() == "bearer"
            else None
        )
        if user is None:
            raise Unauthorized(INVALID_TOKEN)
        return user
    user = _session_user(request, session)
    if user is None:
        raise Unauthorized("Not authenticated. Send 'Authorization: Bearer <token>'.")
    # A cookie rides along on cross-site requests; a header set by our own script cannot.
    verify_csrf_header(request)
    return user


# The hot labeling routes' fast path (app.labeling.caller): they fold the token's lookup
# into their first query, and these two keep its answers the same as get_api_user's.


def bearer_digest(request: Request) -> str | None:
    """The stored form (SHA-256) of the request's bearer token; None when it sends no
    Authorization header (a browser: use ``get_api_user``). 401 for a header that
    ``get_api_user`` would refuse before any query."""
    authorization = request.headers.get("authorization")
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not 0 < len(token) <= credentials.MAX_SECRET_LENGTH:
        raise Unauthorized(INVALID_TOKEN)
    return credentials.digest(token)


def token_holder(user: User | None, expires_at: datetime | None) -> User:
    """The user a token lookup found, checked as ``credentials.user_for_token`` does."""
    if user is None or expires_at is None or expires_at < utcnow() or not user.is_active:
        raise Unauthorized(INVALID_TOKEN)
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


def client_address(request: Request) -> str:
    """The peer's address. Behind a reverse proxy this is the proxy's, unless uvicorn is
    told to trust its X-Forwarded-For (FORWARDED_ALLOW_IPS / --forwarded-allow-ips):
    trusting that header from anyone would let a caller pick its own throttling bucket.
    """
    return request.client.host if request.client else "unknown"


def start_login_session(request: Request, session: SessionDep, user: User) -> None:
    settings: Settings = request.app.state.settings
    # A fresh cookie: whatever a visitor held before logging in (fixation) is dropped.
    request.session.clear()
    request.session[SESSION_KEY] = credentials.start_session(
        session, user, settings.session_max_age, request.headers.get("user-agent")
    )
    rotate_csrf_token(request)


def end_login_session(request: Request, session: SessionDep) -> None:
    credentials.end_session(session, request.session.get(SESSION_KEY))
    request.session.clear()
