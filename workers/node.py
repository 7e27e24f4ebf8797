"""This worker node's identity, as a job's owner."""

from __future__ import annotations

import socket
import uuid

from app.background.owners import Owner, this_process

# Made when the worker's main process imports this, before its pool forks: every task
# process of one start of the node shares it, and a restart gets a new one.
BOOT = uuid.uuid4().hex


def owner_of(node: str | None) -> Owner:
    """This process as a job's owner; ``node`` is the Celery node name of the task."""
    return this_process(node or f"local@{socket.gethostname()}", BOOT)
