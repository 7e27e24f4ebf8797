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
