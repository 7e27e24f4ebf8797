"""The columns a job row needs to be claimed by one worker and sent as an outbox message."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime


class JobColumns:
    """Mixed into ``TrainingRun`` and ``ImportBatch``."""

    # The process that claimed the job: its Celery node, host and pid, and the node's
    # start (a restarted node on the same host may reuse the pid).
    owner_node: Mapped[str | None] = mapped_column(String(200), default=None)
    owner_host: Mapped[str | None] = mapped_column(String(255), default=None)
    owner_pid: Mapped[int | None] = mapped_column(Integer, default=None)
    owner_boot: Mapped[str | None] = mapped_column(String(32), default=None)
    # When the task message last left for the broker; None: never (the broker was down).
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    dispatch_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
