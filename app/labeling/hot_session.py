"""The hot routes' session and caller, in two thread-pool hops per request, not four.

FastAPI runs every sync dependency and sync route on a thread-pool hop of its own, and a
yield dependency twice (enter and exit). Through `SessionDep` plus the caller's lookup,
``queue/next`` and ``POST annotations`` made four hops a call; py-spy put about a third
of the web's CPU in handing work to those threads (BENCHMARKS.md, issue 15). Here the
session opens and the caller is looked up in one hop, before the route's parameters are
validated (so a bad token is still 401 before anything else), and the route ends its
own transaction with `app.db.one_transaction` in its own hop: commit before the
response, rollback on any error, as `app.db.get_session` does for every other route.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.labeling.caller import ImageCall, ProjectCall, image_caller, project_caller

C = TypeVar("C")


@dataclass(frozen=True)
class Hot(Generic[C]):
    session: Session
    call: C


@asynccontextmanager
async def _opened(
    request: Request, look_up: Callable[[Request, Session], C]
) -> AsyncIterator[Hot[C]]:
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    session = factory()
    try:
        yield Hot(session, await run_in_threadpool(look_up, request, session))
    finally:
        # The route never ran (its parameters failed validation) or the lookup refused
        # the caller: give the connection back. A finished route closed it already.
        if session.in_transaction():
            await run_in_threadpool(session.close)


async def hot_project(request: Request) -> AsyncIterator[Hot[ProjectCall]]:
    async with _opened(request, project_caller) as hot:
        yield hot


async def hot_image(request: Request) -> AsyncIterator[Hot[ImageCall]]:
    async with _opened(request, image_caller) as hot:
        yield hot
