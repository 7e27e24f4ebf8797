"""Enqueue Celery tasks by name, only once the request's transaction has committed.

A task sent before the commit could run before its rows exist, or for rows that a
rollback then erases. So services call ``enqueue_after_commit``; the message leaves when
the session commits and is dropped if it rolls back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from celery import Celery
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

_PENDING = "curator_pending_tasks"


@dataclass(frozen=True)
class _Pending:
    celery: Celery
    name: str
    args: list[object]
    queue: str
    task_id: str


def enqueue_after_commit(
    session: Session, celery: Celery, name: str, *, queue: str, args: Sequence[object] = ()
) -> str:
    """Queue ``name`` for after the commit; returns the task id now, to store on a row."""
    task_id = uuid.uuid4().hex
    if not session.in_transaction():
        # Pending tasks belong to a transaction: begin one so a rollback can drop them.
        session.begin()
    session.info.setdefault(_PENDING, []).append(_Pending(celery, name, list(args), queue, task_id))
    return task_id


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for task in session.info.pop(_PENDING, []):
        task.celery.send_task(task.name, args=task.args, queue=task.queue, task_id=task.task_id)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        session.info.pop(_PENDING, None)
