"""Who owns a job, and whether that process is still there."""

from __future__ import annotations

import enum
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.background.models import WorkerHeartbeat
from app.db import utcnow


@dataclass(frozen=True)
class Owner:
    node: str  # the Celery node name, e.g. curator-ml@host
    host: str
    pid: int
    boot: str  # changes each time the node starts

    def values(self) -> dict[str, Any]:
        """The owner columns of a job row, for an UPDATE."""
        return {
            "owner_node": self.node[:200],
            "owner_host": self.host[:255],
            "owner_pid": self.pid,
            "owner_boot": self.boot[:32],
        }


def this_process(node: str, boot: str) -> Owner:
    return Owner(node=node, host=socket.gethostname(), pid=os.getpid(), boot=boot)


class Claim(enum.Enum):
    """What a task delivered for a job should do."""

    claimed = "claimed"  # run it: this process owns it now
    busy = "busy"  # its owner is alive and beating: try again later
    skip = "skip"  # finished, gone, or another message of the job got it: drop this one


class Liveness(enum.Enum):
    alive = "alive"
    dead = "dead"
    unknown = "unknown"  # on another host, and its node never reported: ask its heartbeat


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs here (a zombie does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


@dataclass(frozen=True)
class Workers:
    """The worker nodes' last reports, read once per check."""

    boots: dict[str, WorkerHeartbeat]
    fresh_after: datetime  # a node seen after this is alive
    here: str  # this host

    @classmethod
    def load(cls, session: Session, stale_after: float) -> Workers:
        rows = session.scalars(select(WorkerHeartbeat)).all()
        return cls(
            boots={r.boot: r for r in rows},
            fresh_after=utcnow() - timedelta(seconds=stale_after),
            here=socket.gethostname(),
        )

    def liveness(self, host: str | None, pid: int | None, boot: str | None) -> Liveness:
        """Whether a job's owner still runs; its pid is checked only on this host."""
        if host is None or pid is None:
            return Liveness.unknown
        node = self.boots.get(boot or "")
        if node is not None and node.seen_at < self.fresh_after:
            # Its node stopped reporting: after a restart on the same host (a container
            # restarts with the same host name) the pid may belong to someone else now.
            return Liveness.dead
        if host == self.here:
            return Liveness.alive if pid_alive(pid) else Liveness.dead
        return Liveness.unknown if node is None else Liveness.alive
