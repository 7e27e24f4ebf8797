"""Training runs and import jobs as an outbox: each row knows whether its message left.

A job is committed as a row first; its task message leaves after the commit, if the
broker answers. When it does not (Redis is down), the row stays ``queued`` with no
``dispatched_at`` and the dispatcher (``app.background.dispatch``) sends it once the
broker is back. A message that left but that no worker claimed in time (the worker
that took it died) is sent again the same way; a task run twice is harmless.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from sqlalchemy.orm import Session

from app.background import dispatch
from app.background.boxes import Box
from app.broker import reachable
from app.db import utcnow
from app.tasks import call_after_commit, enqueue_after_commit

UNREACHABLE = "queued; the task queue is unreachable, it will start when it is back"


def post(session: Session, celery: Celery, box: Box, row: Any) -> bool:
    """Send ``row``'s task after the commit; False if the broker is unreachable now.

    Either way the row is the record: if the message does not leave, the dispatcher
    sends it when the broker answers again.
    """
    engine = session.get_bind()
    if not reachable(celery):
        row.dispatched_at = None
        call_after_commit(session, lambda: dispatch.kick(engine, celery))
        return False
    row.dispatched_at = utcnow()
    row.dispatch_attempts = (row.dispatch_attempts or 0) + 1
    row_id = row.id

    def undelivered() -> None:
        dispatch.kick(engine, celery, forget=(box, row_id, task_id))

    task_id = enqueue_after_commit(
        session, celery, box.task, queue=box.queue, args=[row_id], on_failure=undelivered
    )
    row.task_id = task_id
    return True


def queued_message(row: Any) -> str | None:
    """What to tell the user who just queued ``row``, if anything."""
    if str(row.status) == "queued" and row.dispatched_at is None:
        return UNREACHABLE
    return None
