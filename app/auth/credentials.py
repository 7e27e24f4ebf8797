"""What stands for a login after it: bearer tokens and browser sessions. No HTTP here.

Both are random secrets of which only the SHA-256 is stored, so a leaked database
leaks no credential. Both are rows, so ending one is deleting it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.auth.models import ApiToken, LoginSession, User
from app.db import utcnow

# A session's last_seen_at (and with it its expiry) moves at most this often, so that
# the pages and the labeling calls do not each write a row.
TOUCH_INTERVAL = timedelta(seconds=60)
MAX_SECRET_LENGTH = 200
USER_AGENT_LENGTH = 255


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _usable(secret: object) -> str | None:
    return secret if isinstance(secret, str) and 0 < len(secret) <= MAX_SECRET_LENGTH else None


# API tokens -----------------------------------------------------------------------------


def issue_token(session: Session, user: User, ttl: int) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id, token_hash=digest(token), expires_at=utcnow() + timedelta(seconds=ttl)
        )
    )
    # Expired tokens are swept here, on the rare path, rather than by a scheduler.
    session.execute(delete(ApiToken).where(ApiToken.expires_at < utcnow()))
    return token


def user_for_token(session: Session, token: str) -> User | None:
    usable = _usable(token)
    if usable is None:
        return None
    row = session.execute(
        select(User, ApiToken.expires_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == digest(usable))
    ).first()
    if row is None:
        return None
    user, expires_at = row
    if expires_at < utcnow() or not user.is_active:
        return None
    return user


# Browser sessions -----------------------------------------------------------------------


def start_session(session: Session, user: User, max_age: int, user_agent: str | None) -> str:
    """A new session for ``user``; returns the secret the cookie carries."""
    now = utcnow()
    secret = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            session_hash=digest(secret),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=max_age),
            user_agent=user_agent[:USER_AGENT_LENGTH] if user_agent else None,
        )
    )
    # Logins are rare next to page views: the right moment to sweep dead sessions.
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    return secret


def user_for_session(
    session: Session, secret: object, *, max_age: int | None = None
) -> User | None:
    """The active user whose live session this is, in one indexed query.

    With ``max_age``, a session in use slides its expiry forward (at most once per
    TOUCH_INTERVAL), as the cookie does: it expires after ``max_age`` of disuse.
    """
    usable = _usable(secret)
    if usable is None:
        return None
    row = session.execute(
        select(User, LoginSession.id, LoginSession.last_seen_at, LoginSession.expires_at)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(LoginSession.session_hash == digest(usable))
    ).first()
    if row is None:
        return None
    user, session_id, last_seen_at, expires_at = row
    now = utcnow()
    if expires_at <= now or not user.is_active:
        return None
    if max_age is not None and now - last_seen_at >= TOUCH_INTERVAL:
        _touch(session, session_id, now, now + timedelta(seconds=max_age))
    return user


def _touch(session: Session, session_id: int, now: datetime, expires_at: datetime) -> None:
    session.execute(
        update(LoginSession)
        .where(LoginSession.id == session_id)
        .values(last_seen_at=now, expires_at=expires_at)
    )


def end_session(session: Session, secret: object) -> None:
    usable = _usable(secret)
    if usable is not None:
        session.execute(delete(LoginSession).where(LoginSession.session_hash == digest(usable)))


def revoke_all(session: Session, user_id: int) -> None:
    """Log a user out everywhere: every browser session and every API token."""
    session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
    session.execute(delete(ApiToken).where(ApiToken.user_id == user_id))
