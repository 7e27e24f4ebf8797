"""CSRF tokens for cookie-authenticated requests (synchronizer token in the session)."""

from __future__ import annotations

import secrets

from fastapi import Request

from app.errors import Forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
CSRF_FAILED = "The form has expired or did not come from this site. Reload the page and try again."


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def rotate_csrf_token(request: Request) -> None:
    request.session["csrf"] = secrets.token_urlsafe(32)


def _matches(request: Request, supplied: object) -> bool:
    expected = request.session.get("csrf")
    return (
        isinstance(expected, str)
        and isinstance(supplied, str)
        and secrets.compare_digest(expected.encode(), supplied.encode())
    )


async def verify_csrf(request: Request) -> None:
    """Router dependency for HTML routes: unsafe methods must echo the session's token.

    Reading the form here is free: Starlette caches it for the route's own Form fields.
    """
    if request.method in SAFE_METHODS:
        return
    supplied: object = request.headers.get(HEADER)
    if supplied is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            supplied = (await request.form()).get(FORM_FIELD)
    if not _matches(request, supplied):
        raise Forbidden(CSRF_FAILED)


def verify_csrf_header(request: Request) -> None:
    """For API calls authenticated by the session cookie (the browser's own scripts)."""
    if request.method not in SAFE_METHODS and not _matches(request, request.headers.get(HEADER)):
        raise Forbidden(CSRF_FAILED)
