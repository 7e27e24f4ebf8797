"""Validate HTML form input with the same pydantic schemas the API uses."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from app.errors import DomainError

M = TypeVar("M", bound=BaseModel)


class FormError(DomainError):
    """Invalid form input: re-render the form with the message (400, not the API's 422)."""

    status_code = 400


def parse_form(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        messages = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            messages.append(f"{field.replace('_', ' ').capitalize()}: {message}")
        raise FormError("; ".join(messages)) from None


def parse_id(field: str, raw: str) -> int | None:
    """A blank field means "any"; anything else must be a positive id."""
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdecimal() or not 0 < int(raw) < 2**31:
        raise FormError(f"{field}: {raw[:40]!r} is not a valid id; pick one from the list.")
    return int(raw)


def parse_form_id(field: str, raw: str) -> int:
    value = parse_id(field, raw)
    if value is None:
        raise FormError(f"{field}: missing.")
    return value


def safe_next(target: str | None, default: str = "/projects") -> str:
    """Only same-site paths: ``//evil.example`` and ``https://...`` fall back to default."""
    if not target or len(target) > 2000:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target
