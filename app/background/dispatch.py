"""The outbox dispatcher: sends the queued jobs whose message did not leave or got lost.

Workers run it on their timer (``dispatch_due`` with a timeout). A web process that
failed to send starts it in a thread of its own (``kick``), which sends what never left
as soon as the broker answers, then stops: the request that queued the job never waits.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from celery import Celery
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.background.boxes import Box, registered
from app.broker import mark_unreachable, reachable
from app.db import utcnow
from app.tasks import send

BATCH = 100  # rows looked at per table and pass
MAX_BACKOFF = 32  # a lost message is sent again after timeout, 2x, 4x ... at most 32x
WEB_RETRY_MAX = 15.0  # seconds between a web process's tries while the broker is down
WEB_ROUNDS = 600  # then the workers' timers carry on alone
log = logging.getLogger(__name__)


def _due(session: Session, box: Box, timeout: float | None) -> list[int]:
    """Rows of ``box`` whose message never left, or (with ``timeout``) went unclaimed."""
    model = box.model
    now = utcnow()
    late = model.dispatched_at.is_(None)
    if timeout is not None:
        late = late | (model.dispatched_at < now - timedelta(seconds=timeout))
    rows = session.execute(
        select(model.id, model.dispatched_at, model.dispatch_attempts)
        .where(box.waiting(), late)
        .order_by(model.id)
        .limit(BATCH)
    ).all()
    return [row_id for row_id, sent_at, tries in rows if _overdue(sent_at, tries, now, timeout)]


def _overdue(sent_at: datetime | None, tries: int, now: datetime, timeout: float | None) -> bool:
    if sent_at is None or timeout is None:
        return True
    # A run waiting behind a long one is not lost: wait twice as long each time.
    wait = timeout * min(2 ** max((tries or 1) - 1, 0), MAX_BACKOFF)
    return sent_at < now - timedelta(seconds=wait)


def dispatch_due(
    sessions: sessionmaker[Session],
    celery: Celery,
    *,
    timeout: float | None = None,
    boxes: Sequence[Box] | None = None,
) -> int:
    """Send the due messages of the outbox tables (default: all registered); returns how
    many left."""
    if not reachable(celery):
        return 0
    sent = 0
    for box in registered() if boxes is None else boxes:
        with sessions() as session:
            due = _due(session, box, timeout)
        for row_id in due:
            task_id = uuid.uuid4().hex
            try:
                send(celery, box.task, queue=box.queue, args=[row_id], task_id=task_id)
            except Exception as exc:
                log.warning("outbox: broker did not take %s %s: %s", box.task, row_id, exc)
                mark_unreachable(celery)
                return sent
            with sessions() as session:
                session.execute(
                    update(box.model)
                    .where(box.model.id == row_id, box.waiting())
                    .values(
                        dispatched_at=utcnow(),
                        dispatch_attempts=box.model.dispatch_attempts + 1,
                        task_id=task_id,
                    )
                )
                session.commit()
            sent += 1
            log.info("outbox: sent %s for %s", box.task, row_id)
    return sent


def undelivered_left(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        return any(_due(session, box, None) for box in registered())


def _forget(sessions: sessionmaker[Session], box: Box, row_id: int, task_id: str) -> None:
    """The send after the commit failed: the row's message never left."""
    with sessions() as session:
        session.execute(
            update(box.model)
            .where(box.model.id == row_id, box.model.task_id == task_id, box.waiting())
            .values(dispatched_at=None)
        )
        session.commit()


class _WebDispatcher:
    """One per web process and database: a thread that runs while messages wait."""

    def __init__(self, sessions: sessionmaker[Session], celery: Celery) -> None:
        self.sessions = sessions
        self.celery = celery
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.forget: list[tuple[Box, int, str]] = []

    def kick(self, forget: tuple[Box, int, str] | None = None) -> None:
        with self.lock:
            if forget is not None:
                self.forget.append(forget)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="outbox", daemon=True)
                self.thread.start()
            self.wake.set()

    def _run(self) -> None:
        delay = 1.0
        for _ in range(WEB_ROUNDS):
            try:
                with self.lock:
                    forget, self.forget = self.forget, []
                for box, row_id, task_id in forget:
                    _forget(self.sessions, box, row_id, task_id)
                if reachable(self.celery):
                    dispatch_due(self.sessions, self.celery)
                    if not undelivered_left(self.sessions):
                        return
            except Exception:
                log.exception("outbox: dispatch from the web failed; trying again")
            self.wake.wait(delay)
            self.wake.clear()
            delay = min(delay * 2, WEB_RETRY_MAX)


_web: dict[tuple[str, str], _WebDispatcher] = {}
_web_lock = threading.Lock()


def kick(
    bind: Engine | Connection, celery: Celery, forget: tuple[Box, int, str] | None = None
) -> None:
    """Start (or wake) this process's dispatcher thread for this database and broker."""
    engine = bind.engine if isinstance(bind, Connection) else bind
    key = (str(engine.url), str(celery.conf.broker_url))
    with _web_lock:
        dispatcher = _web.get(key)
        if dispatcher is None:
            sessions = sessionmaker(bind=engine, expire_on_commit=False)
            dispatcher = _web[key] = _WebDispatcher(sessions, celery)
    dispatcher.kick(forget)
