from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse

from app.auth import credentials, service
from app.auth.deps import ApiAdmin, ApiUser, client_address
from app.auth.models import User
from app.auth.schemas import TokenOut, UserCreate, UserOut, UserUpdate
from app.auth.throttle import policy_from
from app.db import SessionDep
from app.settings_dep import SettingsDep
from app.validation import Id

router = APIRouter(tags=["auth"])


@router.post(
    "/auth/token",
    response_model=TokenOut,
    responses={
        401: {"description": "Bad credentials"},
        429: {
            "description": "Too many failed logins from this address: wait and retry",
            "headers": {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
            },
        },
    },
)
def create_token(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(min_length=1, max_length=256)],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
) -> TokenOut | JSONResponse:
    """OAuth2 password flow: trade a username and password for a bearer token."""
    user = service.authenticate(
        session,
        username,
        password,
        client=client_address(request),
        policy=policy_from(settings),
    )
    if user is None:
        # Returned, not raised, so the recorded failure commits.
        return JSONResponse(
            {"detail": service.BAD_CREDENTIALS},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = credentials.issue_token(session, user, settings.token_ttl)
    return TokenOut(access_token=token, expires_in=settings.token_ttl)


@router.get("/users/me", response_model=UserOut)
def me(user: ApiUser) -> User:
    return user


@router.get("/users", response_model=list[UserOut])
def list_users(session: SessionDep, _admin: ApiAdmin) -> list[User]:
    return service.list_users(session)


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, session: SessionDep, _admin: ApiAdmin) -> User:
    return service.create_user(session, body.username, body.password, body.role)


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(user_id: Id, body: UserUpdate, session: SessionDep, admin: ApiAdmin) -> User:
    target = service.get_user(session, user_id)
    return service.update_user(
        session, admin, target, role=body.role, is_active=body.is_active, password=body.password
    )
