"""Enqueue Celery tasks by name, only once the request's transaction has committed.

A task sent before the commit could run before its rows exist, or for rows that a
rollback then erases. So services call ``enqueue_after_commit``; the message leaves when
the session commits and is dropped if it rolls back.

A send that fails after the commit (the broker is down) must not fail the request: the
rows are committed already. It is logged, and ``on_failure`` says so to the caller's
recovery (training runs and imports are sent again by the outbox dispatcher).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from celery import Celery
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.broker import mark_unreachable

_PENDING = "curator_pending_tasks"
_CALLBACKS = "curator_after_commit"
# A down broker answers at once (connection refused); a few quick retries ride out a blip.
SEND_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Pending:
    celery: Celery
    name: str
    args: list[object]
    queue: str
    task_id: str
    keep_result: bool
    on_failure: Callable[[], None] | None


def _begin(session: Session) -> None:
    if not session.in_transaction():
        # Pending work belongs to a transaction: begin one so a rollback can drop it.
        session.begin()


def enqueue_after_commit(
    session: Session,
    celery: Celery,
    name: str,
    *,
    queue: str,
    args: Sequence[object] = (),
    keep_result: bool = False,
    on_failure: Callable[[], None] | None = None,
) -> str:
    """Queue ``name`` for after the commit; returns the task id now, to store on a row.

    ``keep_result``: store the task's return value (only a caller that reads it wants
    that; with Redis, waiting on a result also ties the send to the result store).
    """
    task_id = uuid.uuid4().hex
    _begin(session)
    pending = _Pending(celery, name, list(args), queue, task_id, keep_result, on_failure)
    session.info.setdefault(_PENDING, []).append(pending)
    return task_id


def call_after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the transaction commits; never if it rolls back."""
    _begin(session)
    session.info.setdefault(_CALLBACKS, []).append(callback)


def send(
    celery: Celery,
    name: str,
    *,
    queue: str,
    args: Sequence[object],
    task_id: str,
    keep_result: bool = False,
) -> None:
    """Hand one message to the broker now; raises if it cannot."""
    celery.send_task(
        name,
        args=list(args),
        queue=queue,
        task_id=task_id,
        ignore_result=not keep_result,
        retry_policy=SEND_RETRY,
    )


def _safely(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:
        log.exception("after-commit callback failed")


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for task in session.info.pop(_PENDING, []):
        try:
            send(
                task.celery,
                task.name,
                queue=task.queue,
                args=task.args,
                task_id=task.task_id,
                keep_result=task.keep_result,
            )
        except Exception as exc:
            log.warning(
                "task %s (%s) not sent, the broker did not take it: %s",
                task.name,
                task.task_id,
                type(exc).__name__,
            )
            mark_unreachable(task.celery)
            if task.on_failure is not None:
                _safely(task.on_failure)
    for callback in session.info.pop(_CALLBACKS, []):
        _safely(callback)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        session.info.pop(_PENDING, None)
        session.info.pop(_CALLBACKS, None)
