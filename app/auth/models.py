from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class Role(enum.StrEnum):
    """Global roles. Admins run the install; managers run projects; labelers label."""

    admin = "admin"
    manager = "manager"
    labeler = "labeler"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, create_constraint=True, length=16, name="user_role")
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # No longer read: login sessions live in `login_sessions` and die with their rows.
    # Kept because dropping a column of `users` on SQLite rebuilds the table that every
    # other table references.
    security_stamp: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored, so a leaked database leaks no tokens."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginSession(Base):
    """A browser's login. The cookie carries a random id; only its SHA-256 is stored.

    Kept on the server so that logging out, a password change or "log out everywhere"
    ends it: a copy of the cookie taken earlier names a row that no longer exists.
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_agent: Mapped[str | None] = mapped_column(String(255), default=None)


class LoginFailure(Base):
    """One failed login: the name that was tried (existing or not) and the client address.

    Kept in the database rather than in memory so that several web processes share
    the counts.
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        # Serves both the pair count (client, username) and the address count (client).
        Index("ix_login_failures_client_username_at", "client", "username", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
