"""Workers that answered recently: each running worker writes its row on its timer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class WorkerHeartbeat(Base):
    """One row per start of a worker node (two nodes may share a name by mistake)."""

    __tablename__ = "worker_heartbeats"

    boot: Mapped[str] = mapped_column(String(32), primary_key=True)  # new at each start
    node: Mapped[str] = mapped_column(String(200))  # the Celery node name
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    queues: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
