"""The app as bench/labeling_queue.py serves it: ``make()`` for uvicorn's ``--factory``
(so ``--workers N`` works), with a timing middleware that reports each request's server
time in an ``x-server-ms`` header. Bench only; the data dir comes from
``CURATOR_BENCH_DATA``."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.main import create_app


class ServerTime:
    """Pure ASGI (a BaseHTTPMiddleware would add its own task and streams to every
    request it measures): the time from the request's arrival to its response start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                ms = f"{(time.perf_counter() - start) * 1000:.3f}".encode()
                message["headers"] = [*message.get("headers", []), (b"x-server-ms", ms)]
            await send(message)

        await self.app(scope, receive, timed_send)


def make() -> Any:
    data = Path(os.environ["CURATOR_BENCH_DATA"])
    app = create_app(Settings(env="test", data_dir=data, secret_key="bench-" + "x" * 40))
    app.add_middleware(ServerTime)
    return app
