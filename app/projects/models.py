from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class ProjectRole(enum.StrEnum):
    labeler = "labeler"
    manager = "manager"


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Case- and space-folded name: "Flowers" and " flowers " are the same project, on
    # SQLite and PostgreSQL alike (a functional index would not diff cleanly in Alembic).
    # 300: case folding can triple a name's length ("ﬃ" folds to "ffi").
    name_key: Mapped[str] = mapped_column(String(300), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Percent of images that get a second, independent label (issue 4's overlap).
    overlap_percent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Retrain (linear mode) after this many new labels; 0 turns auto-train off.
    auto_train_every: Mapped[int] = mapped_column(Integer, default=20, server_default="20")
    # The active-learning strategy that orders the queue unless a session picks another.
    default_strategy: Mapped[str] = mapped_column(
        String(32), default="default", server_default="default"
    )
    backbone: Mapped[str] = mapped_column(
        String(64), default="efficientnet_lite0", server_default="efficientnet_lite0"
    )
    # Share of the labeled images kept out of every run as a fixed test split (0: none).
    test_share: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[ProjectRole] = mapped_column(
        Enum(ProjectRole, native_enum=False, create_constraint=True, length=16, name="member_role")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
