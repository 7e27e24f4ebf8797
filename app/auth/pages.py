from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app.auth import credentials, service
from app.auth.deps import (
    PageAdmin,
    PageUser,
    client_address,
    end_login_session,
    get_page_user,
    start_login_session,
)
from app.auth.models import Role
from app.auth.schemas import UserCreate, UserUpdate
from app.auth.throttle import policy_from
from app.db import SessionDep
from app.errors import DomainError, LoginRequired, RateLimited
from app.settings_dep import SettingsDep
from app.validation import Id
from app.web.flash import flash
from app.web.forms import FormError, parse_form, safe_next
from app.web.templates import render

router = APIRouter()

FormStr = Annotated[str, Form(max_length=4096)]


@router.get("/login")
def login_page(request: Request, session: SessionDep, next: str | None = None) -> Response:
    try:
        get_page_user(request, session)
        return RedirectResponse(safe_next(next), status_code=303)
    except LoginRequired:
        return render(request, "auth/login.html", {"next": safe_next(next)})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: FormStr = "",
    password: FormStr = "",
    next: FormStr = "",
) -> Response:
    target = safe_next(next)
    try:
        user = service.authenticate(
            session,
            username,
            password,
            client=client_address(request),
            policy=policy_from(settings),
        )
    except RateLimited as exc:
        page = render(
            request,
            "auth/login.html",
            {"next": target, "error": exc.detail, "username": username},
            status_code=exc.status_code,
        )
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    if user is None:
        return render(
            request,
            "auth/login.html",
            {"next": target, "error": service.BAD_CREDENTIALS, "username": username},
            status_code=401,
        )
    start_login_session(request, session, user)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    end_login_session(request, session)
    flash(request, "You are logged out.", "info")
    return RedirectResponse("/login", status_code=303)


@router.post("/logout/everywhere")
def logout_everywhere(request: Request, session: SessionDep, user: PageUser) -> Response:
    """Ends every session of this user, in every browser, and every API token."""
    credentials.revoke_all(session, user.id)
    request.session.clear()
    flash(request, "You are logged out everywhere, and your API tokens no longer work.", "info")
    return RedirectResponse("/login", status_code=303)


@router.get("/admin/users")
def users_page(request: Request, session: SessionDep, admin: PageAdmin) -> Response:
    return render(
        request,
        "admin/users.html",
        {"users": service.list_users(session), "roles": list(Role)},
        user=admin,
    )


def _users_error(
    request: Request, session: SessionDep, admin: PageAdmin, message: str, status: int
) -> Response:
    return render(
        request,
        "admin/users.html",
        {"users": service.list_users(session), "roles": list(Role), "error": message},
        user=admin,
        status_code=status,
    )


@router.post("/admin/users")
def create_user(
    request: Request,
    session: SessionDep,
    admin: PageAdmin,
    username: FormStr = "",
    password: FormStr = "",
    role: FormStr = "labeler",
) -> Response:
    try:
        body = parse_form(UserCreate, {"username": username, "password": password, "role": role})
        created = service.create_user(session, body.username, body.password, body.role)
    except DomainError as exc:
        return _users_error(request, session, admin, exc.detail, exc.status_code)
    flash(request, f"Created {created.role} {created.username}.")
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}")
def update_user(
    request: Request,
    user_id: Id,
    session: SessionDep,
    admin: PageAdmin,
    action: FormStr = "",
    password: FormStr = "",
    role: FormStr = "",
) -> Response:
    """One form endpoint per user: deactivate, activate, reset password or change role."""
    fields: dict[str, dict[str, object]] = {
        "deactivate": {"is_active": False},
        "activate": {"is_active": True},
        "password": {"password": password},
        "role": {"role": role},
    }
    try:
        if action not in fields:
            raise FormError("Unknown action.")
        body = parse_form(UserUpdate, fields[action])
        target = service.get_user(session, user_id)
        service.update_user(
            session, admin, target, role=body.role, is_active=body.is_active, password=body.password
        )
    except DomainError as exc:
        return _users_error(request, session, admin, exc.detail, exc.status_code)
    done = {
        "deactivate": "deactivated",
        "activate": "activated",
        "password": "given a new password",
        "role": f"made {role}",
    }[action]
    flash(request, f"{target.username} {done}.")
    return RedirectResponse("/admin/users", status_code=303)
