"""Pure ASGI middleware (so streaming responses keep working): headers and body limits."""

from __future__ import annotations

import re
from typing import ClassVar

from starlette.datastructures import MutableHeaders
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
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


class UploadBodyLimitMiddleware:
    """Raises the request body limit to ``max_upload_bytes`` for the upload routes only.

    FastAPI's app-wide limit (``max_request_bytes``) guards every form and JSON body; a
    Starlette body limiter nested inside it takes over the byte count, so uploads get
    their own, larger limit without lifting it for anything else.
    """

    def __init__(self, app: ASGIApp, max_upload_bytes: int, paths: re.Pattern[str]) -> None:
        self.app = app
        self.paths = paths
        self.limited = RequestBodyLimitMiddleware(app, max_upload_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and self.paths.match(scope["path"])
        ):
            await self.limited(scope, receive, send)
        else:
            await self.app(scope, receive, send)
