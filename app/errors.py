"""Domain errors raised by services; app.web.errors turns them into responses."""

from __future__ import annotations

import errno


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class LoginRequired(Exception):
    """A page needs a logged-in user; the handler redirects to the login page."""


class InvalidInput(DomainError):
    status_code = 422


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class RateLimited(DomainError):
    status_code = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class InsufficientStorage(DomainError):
    """The disk under the data dir (or the database's) has no room left: HTTP 507."""

    status_code = 507

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or DISK_FULL)


DISK_FULL = (
    "The data directory is full: nothing of this request could be saved. Free some space "
    "on the server's disk (or ask the operator to), then try again."
)
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an error that caused it, says the disk or a quota is full.

    Covers a file write (ENOSPC, EDQUOT), SQLite's "database or disk is full" and
    PostgreSQL's disk_full, also when wrapped by SQLAlchemy (``.orig``) or re-raised.
    """
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        error = stack.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _NO_SPACE:
            return True
        code = getattr(error, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF == _SQLITE_FULL:
            return True
        if _PG_DISK_FULL in (getattr(error, "sqlstate", None), getattr(error, "pgcode", None)):
            return True
        orig = getattr(error, "orig", None)
        stack += [orig if isinstance(orig, BaseException) else None]
        stack += [error.__cause__, error.__context__]
    return False
