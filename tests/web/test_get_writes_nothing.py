"""A GET changes nothing: every GET route, called by each caller it serves, writes no row.

Reads are safe to repeat, to prefetch and to crawl; a write hidden in one (a reaper, a
counter) would run on every refresh of a page. The statements are watched at the engine,
so a write through any session or connection counts, whatever module it comes from.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from app.config import Settings
from tests.conftest import UserFactory
from tests.web.role_table import LEVELS, TABLE
from tests.web.role_world import IDENTITIES, World, build_world
from tests.web.test_role_matrix import call

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE", "CREATE", "DROP", "ALTER")
# The writes a GET may make, each named with why:
ALLOWED = (
    # The API contract: `next` leases the image it returns, so two labelers get two images.
    ("/api/v1/projects/{project_id}/queue/next", "INSERT INTO leases "),
    # Sliding sign-in: a session's expiry moves on use, at most once a minute (credentials.py).
    ("*", "UPDATE login_sessions SET last_seen_at"),
    # The API contract: a saliency map is made by a worker on first request (202 until
    # then); its row is the cache record and the outbox entry that sends the task once.
    ("/api/v1/images/{image_id}/saliency", "INSERT INTO saliency_maps "),
    ("/api/v1/images/{image_id}/saliency", "UPDATE saliency_maps SET "),
)


@pytest.fixture
def world(app: FastAPI, db: Session, settings: Settings, make_user: UserFactory) -> Iterator[World]:
    built = build_world(app, db, settings, make_user)
    yield built
    built.close()


class Watch:
    """The writing statements run while ``on``, with the thread that ran each."""

    def __init__(self) -> None:
        self.on = False
        self.seen: list[tuple[str, str]] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if self.on and statement.lstrip().upper().startswith(WRITES):
            self.seen.append((threading.current_thread().name, statement.split("\n")[0][:120]))


def _allowed(path: str, statement: str) -> bool:
    return any(statement.startswith(prefix) for route, prefix in ALLOWED if route in (path, "*"))


def test_no_get_route_writes(world: World) -> None:
    for who in IDENTITIES:
        world.caller(who)  # signing in writes: do it before watching
    watch = Watch()
    event.listen(Engine, "before_cursor_execute", watch)
    problems = []
    try:
        for (method, path), row in sorted(TABLE.items()):
            if method != "GET":
                continue
            for who, expected in LEVELS[row.level].items():
                if expected != "ok":
                    continue
                watch.seen.clear()
                watch.on = True
                resp = call(world, who, method, path, row)
                watch.on = False
                assert resp.status_code < 500, (path, who, resp.status_code)
                # The web's outbox thread sends queued runs on its own clock, not a request's.
                writes = [
                    s for thread, s in watch.seen if thread != "outbox" and not _allowed(path, s)
                ]
                if writes:
                    problems.append(f"GET {path} as {who}: {writes}")
    finally:
        event.remove(Engine, "before_cursor_execute", watch)
    assert not problems, "\n".join(problems)
