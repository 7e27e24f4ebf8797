"""Login throttling: increasing delays per (address, username) and per address.

Nothing locks an account. A run of failures makes the *caller* wait: after a few
failures for one username from one address, each further attempt must wait twice as
long as the one before (1 s, 2 s, 4 s ... up to a cap); an address that fails across
many usernames (password spraying) gets its own doubling delay. When failures across
all addresses pass a ceiling per minute, every address that has failed at all waits
from its first failure. An address with no failures of its own is never refused, so
however many strangers guess at ``admin``, the real admin logs in from elsewhere.

Failures live in the database so that every web process sees the same counts.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from app.auth.models import LoginFailure
from app.config import Settings
from app.db import utcnow
from app.errors import RateLimited

GLOBAL_PERIOD = timedelta(minutes=1)
KEY_LENGTH = 64


@dataclass(frozen=True)
class ThrottlePolicy:
    pair_free_failures: int
    address_free_failures: int
    first_delay: float
    max_delay: float
    window: float
    global_failures_per_minute: int


def required_wait(failures: int, free: int, first: float, cap: float) -> float:
    """Seconds to wait after the last failure: 0 until ``free`` failures, then doubling."""
    if failures < free or failures <= 0:
        return 0.0
    # The exponent is bounded so that a huge count cannot overflow the float.
    return min(first * 2.0 ** min(failures - max(free, 1), 64), cap)


def username_key(username: str) -> str:
    """One bucket per name however it is spelled (case, width), so variants share a count."""
    return unicodedata.normalize("NFKC", username).strip().casefold()[:KEY_LENGTH]


def client_key(host: str | None) -> str:
    return (host or "unknown")[:KEY_LENGTH]


def _count_and_last(
    session: Session, *conditions: ColumnElement[bool]
) -> tuple[int, datetime | None]:
    row = session.execute(select(func.count(), func.max(LoginFailure.at)).where(*conditions)).one()
    return int(row[0]), row[1]


def _remaining(last: datetime | None, wait: float, now: datetime) -> float:
    if last is None or wait <= 0:
        return 0.0
    return (last + timedelta(seconds=wait) - now).total_seconds()


def check(session: Session, username: str, client: str, policy: ThrottlePolicy) -> None:
    """Raise RateLimited, with the seconds to wait, if this caller must wait first."""
    now = utcnow()
    since = now - timedelta(seconds=policy.window)
    key, address = username_key(username), client_key(client)
    pair_count, pair_last = _count_and_last(
        session,
        LoginFailure.client == address,
        LoginFailure.username == key,
        LoginFailure.at >= since,
    )
    address_count, address_last = _count_and_last(
        session, LoginFailure.client == address, LoginFailure.at >= since
    )
    address_free = policy.address_free_failures
    if address_count and _under_global_pressure(session, now, policy):
        address_free = 0

    def wait_for(count: int, free: int, last: datetime | None) -> float:
        return _remaining(
            last, required_wait(count, free, policy.first_delay, policy.max_delay), now
        )

    wait = max(
        wait_for(pair_count, policy.pair_free_failures, pair_last),
        wait_for(address_count, address_free, address_last),
    )
    if wait > 0:
        seconds = math.ceil(wait)
        raise RateLimited(
            f"Too many failed logins. Wait {_humane(seconds)} before trying again.",
            retry_after=seconds,
        )


def _under_global_pressure(session: Session, now: datetime, policy: ThrottlePolicy) -> bool:
    recent = session.scalar(
        select(func.count()).select_from(LoginFailure).where(LoginFailure.at >= now - GLOBAL_PERIOD)
    )
    return (recent or 0) >= policy.global_failures_per_minute


def record_failure(session: Session, username: str, client: str, policy: ThrottlePolicy) -> None:
    session.add(LoginFailure(username=username_key(username), client=client_key(client)))
    # Old failures count for nothing; sweeping them here keeps a flood of guesses at
    # made-up names from growing the table without bound.
    session.execute(
        delete(LoginFailure).where(LoginFailure.at < utcnow() - timedelta(seconds=policy.window))
    )


def clear_pair(session: Session, username: str, client: str) -> None:
    """A success forgives this address's failures for this name, not its other ones."""
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.client == client_key(client),
            LoginFailure.username == username_key(username),
        )
    )


def _humane(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"


def policy_from(settings: Settings) -> ThrottlePolicy:
    return ThrottlePolicy(
        pair_free_failures=settings.login_free_failures,
        address_free_failures=settings.login_address_free_failures,
        first_delay=settings.login_first_delay,
        max_delay=settings.login_max_delay,
        window=settings.login_failure_window,
        global_failures_per_minute=settings.login_global_failures_per_minute,
    )
