"""Pure ASGI middleware (so streaming responses keep working): headers and body limits."""

from __future__ import annotations

import re
from typing import ClassVar

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class SecurityHeadersMiddleware:
    HEADERS: ClassVar[dict[str, str]] = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
    }

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in self.HEADERS.items():
                    headers.setdefault(key, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


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
