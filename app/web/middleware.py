"""Pure ASGI middleware (so streaming responses keep working): headers and body limits."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


# Scripts and styles only from our own files: no inline code, no eval. Swagger UI's
# stylesheet draws its icons as data: URLs, hence img-src.
def content_security_policy(img_origins: tuple[str, ...] = ()) -> str:
    """The policy; ``img_origins`` are an object store's, when images are redirected to it."""
    return "; ".join(
        (
            "default-src 'self'",
            " ".join(("img-src 'self' data:", *img_origins)),
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        )
    )


CONTENT_SECURITY_POLICY = content_security_policy()


class SecurityHeadersMiddleware:
    """Headers for every response, including error pages and files.

    Install it with ``wrap_outermost``: added the usual way, the 500 page (sent by
    Starlette's ServerErrorMiddleware) and the body limit's 413 would pass it by.
    """

    HEADERS: ClassVar[dict[str, str]] = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    }

    def __init__(self, app: ASGIApp, img_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        csp = content_security_policy(img_origins)
        self.headers = {**self.HEADERS, "Content-Security-Policy": csp}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in self.headers.items():
                    headers.setdefault(key, value)
                # A page may show a signed-in user's data or a CSRF token: never keep
                # it in a shared or back-button cache.
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def wrap_outermost(app: Starlette, middleware: Callable[[ASGIApp], ASGIApp]) -> None:
    """Put ``middleware`` outside Starlette's ServerErrorMiddleware, around everything."""
    build = app.build_middleware_stack

    def build_wrapped() -> ASGIApp:
        return middleware(build())

    app.build_middleware_stack = build_wrapped  # type: ignore[method-assign]


class BodyLimitMiddleware:
    """Request body limits: ``max_request_bytes`` for forms and JSON, more for uploads.

    A body whose Content-Length is over the limit is refused before a byte is read, in
    the API's error shape. A body without a length is counted as it streams by
    Starlette's limiter, whose 413 goes through the app's error handlers.
    """

    def __init__(
        self, app: ASGIApp, max_request_bytes: int, max_upload_bytes: int, uploads: re.Pattern[str]
    ) -> None:
        self.uploads = uploads
        self.limits = (max_request_bytes, max_upload_bytes)
        self.limited = (
            RequestBodyLimitMiddleware(app, max_request_bytes),
            RequestBodyLimitMiddleware(app, max_upload_bytes),
        )
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and bool(self.uploads.match(scope["path"]))
        limit = self.limits[upload]
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            setting = "CURATOR_MAX_UPLOAD_BYTES" if upload else "CURATOR_MAX_REQUEST_BYTES"
            detail = f"The request body is over the {_size(limit)} limit ({setting})."
            await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
            return
        await self.limited[upload](scope, receive, send)


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n / 2**10:g} KiB"
