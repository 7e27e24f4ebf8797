"""Users and their passwords: create, change, check. No HTTP here."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth import throttle
from app.auth.credentials import revoke_all
from app.auth.models import Role, User
from app.auth.passwords import dummy_hash, hash_password, verify_password
from app.auth.throttle import ThrottlePolicy
from app.db import utcnow
from app.errors import Conflict, Forbidden, NotFound
from app.names import find_lookalike, lookalike_hint, name_key

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
    # Usernames are shown in member lists and history: "Lena" and "1ena" would pass
    # for "lena". Names from before this rule keep working; only new ones are checked.
    lookalike = find_lookalike(username, session.scalars(select(User.username)))
    if lookalike is not None and name_key(lookalike) == name_key(username):
        raise Conflict(f"A user named {lookalike!r} already exists.")
    if lookalike is not None:
        raise Conflict(
            f"The username {username!r} reads like the existing user {lookalike!r}"
            f"{lookalike_hint(username)}; choose one that is told apart at a glance."
        )
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
            revoke_all(session, user.id)
    if password is not None:
        user.password_hash = hash_password(password)
        # Whoever knew the old password may hold a session or a token made with it.
        revoke_all(session, user.id)
    session.flush()
    return user


def ensure_admin(session: Session, password: str | None) -> tuple[User, str] | None:
    """On the very first start, create ``admin``; returns it with its password, else None."""
    if count_users(session) > 0:
        return None
    chosen = password or secrets.token_urlsafe(12)
    return create_user(session, ADMIN_USERNAME, chosen, Role.admin), chosen


def authenticate(
    session: Session, username: str, password: str, *, client: str, policy: ThrottlePolicy
) -> User | None:
    """The active user with these credentials, or None after recording the failure.

    Raises RateLimited, before looking at the password, when this client must wait
    (see app.auth.throttle). Returns rather than raises on bad credentials so the
    caller's transaction, and with it the recorded failure, still commits.
    """
    throttle.check(session, username, client, policy)
    user = find_user(session, username.strip())
    valid = verify_password(password, user.password_hash if user else dummy_hash())
    if user is None or not valid or not user.is_active:
        throttle.record_failure(session, username, client, policy)
        return None
    throttle.clear_pair(session, username, client)
    user.last_login_at = utcnow()
    return user
