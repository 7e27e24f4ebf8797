"""One place that turns failures into responses: JSON under /api, pages elsewhere.

A stack trace never reaches a user: unexpected errors are logged and answered with a
short message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.blobs import StoreUnavailable
from app.errors import (
    DISK_FULL,
    DomainError,
    LoginRequired,
    RateLimited,
    Unauthorized,
    is_disk_full,
)
from app.web.templates import render

log = logging.getLogger("curator")

# Who is logged in, for an error page's navigation. Auth sits above web, so create_app
# passes its lookup in rather than this module importing it.
PageUserLookup = Callable[[Request], object | None]


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def _current_user(request: Request) -> object | None:
    """The logged-in user, for the page's navigation; None if there is none or no DB."""
    lookup: PageUserLookup | None = getattr(request.app.state, "error_page_user", None)
    if lookup is None or "session" not in request.scope:
        return None
    try:
        return lookup(request)
    except SQLAlchemyError:
        return None  # the error being shown may be the database itself


def _page(request: Request, status_code: int, message: str) -> Response:
    return render(
        request,
        "error.html",
        {"status_code": status_code, "message": message},
        user=_current_user(request),
        status_code=status_code,
    )


def error_response(
    request: Request, status_code: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    if is_api(request):
        return JSONResponse({"detail": message}, status_code=status_code, headers=headers)
    response = _page(request, status_code, message)
    response.headers.update(headers or {})
    return response


def _describe(errors: list[dict[str, object]]) -> str:
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]  # type: ignore[attr-defined]
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
    return "; ".join(parts) or "Invalid request."


async def _domain_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, DomainError):  # registered for this type only
        raise exc
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthorized) and is_api(request):
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(request, exc.status_code, exc.detail, headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):  # registered for this type only
        raise exc
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    if exc.status_code == 404 and message == "Not Found":
        message = "There is nothing at this address."
    return error_response(request, exc.status_code, message, dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):  # registered for this type only
        raise exc
    errors = [{k: v for k, v in err.items() if k in ("loc", "msg", "type")} for err in exc.errors()]
    message = _describe(errors)
    if is_api(request):
        return JSONResponse({"detail": message, "errors": errors}, status_code=422)
    return _page(request, 400, message)


async def _integrity_error(request: Request, exc: Exception) -> Response:
    # Services check uniqueness first; reaching the constraint means another request
    # made the same change in between. The session has already rolled back.
    log.info("Integrity error on %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        request, 409, "That conflicts with a change made at the same moment. Reload and try again."
    )


async def _login_required(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def _storage_full(request: Request, exc: Exception) -> Response:
    """A full disk is the operator's to fix, not a bug: 507 and a sentence, no trace.

    The request's transaction has rolled back; files it wrote before failing have no
    row and are removed by `curator gc`. Nothing needs resetting once space is back.
    """
    if not is_disk_full(exc):
        raise exc  # any other OSError or database error is unexpected: a 500
    log.error("Disk full on %s %s: %s", request.method, request.url.path, exc)
    return error_response(request, 507, DISK_FULL)


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    """The object store is down or refuses us: 503 naming it; the transaction rolled back."""
    log.error("Object store unavailable on %s %s: %s", request.method, request.url.path, exc)
    message = f"{exc} Nothing of this request was saved; try again once the store is back."
    return error_response(request, 503, message, {"Retry-After": "30"})


async def _unexpected(request: Request, exc: Exception) -> Response:
    if is_disk_full(exc):  # raised outside the routes, e.g. in a middleware
        return await _storage_full(request, exc)
    log.exception("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        request, 500, "Something went wrong on our side. It has been logged; try again."
    )


def install_error_handlers(app: FastAPI, *, current_user: PageUserLookup) -> None:
    app.state.error_page_user = current_user
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(StoreUnavailable, _store_unavailable)
    app.add_exception_handler(OSError, _storage_full)
    app.add_exception_handler(OperationalError, _storage_full)
    app.add_exception_handler(Exception, _unexpected)
