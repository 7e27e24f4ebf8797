"""Users, credentials, login throttling and API tokens. No HTTP here."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.auth.models import ApiToken, LoginFailure, Role, User
from app.auth.passwords import dummy_hash, hash_password, verify_password
from app.db import utcnow
from app.errors import Conflict, Forbidden, NotFound, RateLimited

BAD_CREDENTIALS = "Incorrect username or password."
ADMIN_USERNAME = "admin"


def _new_stamp() -> str:
    return secrets.token_hex(16)


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    return user


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def usernames(session: Session, user_ids: set[int]) -> dict[int, str]:
    """Names for ids, in one query (history and counter views show who did what)."""
    if not user_ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(user_ids)))
    return {row[0]: row[1] for row in rows}


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def create_user(session: Session, username: str, password: str, role: Role) -> User:
    if find_user(session, username) is not None:
        raise Conflict(f"A user named {username!r} already exists.")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        is_active=True,
        security_stamp=_new_stamp(),
    )
    session.add(user)
    session.flush()
    return user


def _is_last_active_admin(session: Session, user: User) -> bool:
    if user.role != Role.admin or not user.is_active:
        return False
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.admin, User.is_active.is_(True), User.id != user.id)
    )
    return not others


def update_user(
    session: Session,
    actor: User,
    user: User,
    *,
    role: Role | None = None,
    is_active: bool | None = None,
    password: str | None = None,
) -> User:
    """Change role, activity or password; refuses to leave the install without an admin."""
    losing_admin = (role is not None and role != Role.admin) or is_active is False
    if losing_admin and _is_last_active_admin(session, user):
        raise Conflict("This is the last active admin; make another admin first.")
    if is_active is False and user.id == actor.id:
        raise Forbidden("You cannot deactivate your own account.")
    if role is not None:
        user.role = role
    if is_active is not None and is_active != user.is_active:
        user.is_active = is_active
        if not is_active:
            _revoke_credentials(session, user)
    if password is not None:
        user.password_hash = hash_password(password)
        _revoke_credentials(session, user)
    session.flush()
    return user


def _revoke_credentials(session: Session, user: User) -> None:
    """Log the user out everywhere: new stamp for sessions, tokens deleted."""
    user.security_stamp = _new_stamp()
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))


def ensure_admin(session: Session, password: str | None) -> tuple[User, str] | None:
    """On the very first start, create ``admin``; returns it with its password, else None."""
    if count_users(session) > 0:
        return None
    chosen = password or secrets.token_urlsafe(12)
    return create_user(session, ADMIN_USERNAME, chosen, Role.admin), chosen


# Login throttling -----------------------------------------------------------------------


def _recent_failures(session: Session, username: str, window: int) -> list[LoginFailure]:
    since = utcnow() - timedelta(seconds=window)
    return list(
        session.scalars(
            select(LoginFailure)
            .where(LoginFailure.username == username, LoginFailure.at >= since)
            .order_by(LoginFailure.at)
        )
    )


def authenticate(
    session: Session, username: str, password: str, *, max_failures: int, window: int
) -> User | None:
    """The active user with these credentials, or None after recording the failure.

    Returns rather than raises on bad credentials so the caller's transaction, and with
    it the recorded failure, still commits. Failures are counted per attempted name
    (known or not) and, past ``max_failures`` within ``window`` seconds, even a right
    password is refused until the window ends.
    """
    key = username.strip()[:64]
    failures = _recent_failures(session, key, window)
    if len(failures) >= max_failures:
        retry_after = int((failures[0].at + timedelta(seconds=window) - utcnow()).total_seconds())
        raise RateLimited(
            "Too many failed attempts for this username. "
            f"Try again in {max(retry_after // 60, 1)} minute(s).",
            retry_after=max(retry_after, 1),
        )
    user = find_user(session, key)
    valid = verify_password(password, user.password_hash if user else dummy_hash())
    if user is None or not valid or not user.is_active:
        session.add(LoginFailure(username=key))
        # Old failures count for nothing; sweeping them here keeps a flood of guesses at
        # made-up names from growing the table without bound.
        session.execute(
            delete(LoginFailure).where(LoginFailure.at < utcnow() - timedelta(seconds=window))
        )
        return None
    session.execute(delete(LoginFailure).where(LoginFailure.username == key))
    user.last_login_at = utcnow()
    return user


# API tokens -----------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, ttl: int) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id, token_hash=_digest(token), expires_at=utcnow() + timedelta(seconds=ttl)
        )
    )
    # Expired tokens are swept here, on the rare path, rather than by a scheduler.
    session.execute(delete(ApiToken).where(ApiToken.expires_at < utcnow()))
    return token


def user_for_token(session: Session, token: str) -> User | None:
    if not token or len(token) > 200:
        return None
    row = session.execute(
        select(User, ApiToken.expires_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == _digest(token))
    ).first()
    if row is None:
        return None
    user, expires_at = row
    if expires_at < utcnow() or not user.is_active:
        return None
    return user


def user_for_session(session: Session, user_id: object, stamp: object) -> User | None:
    if not isinstance(user_id, int) or not isinstance(stamp, str):
        return None
    user = session.get(User, user_id)
    if user is None or not user.is_active or not secrets.compare_digest(user.security_stamp, stamp):
        return None
    return user
