"""One-shot messages shown on the next page, kept in the signed session cookie."""

from __future__ import annotations

from typing import Literal

from fastapi import Request

Level = Literal["success", "error", "info"]


def flash(request: Request, message: str, level: Level = "success") -> None:
    messages = list(request.session.get("flash", []))
    messages.append({"level": level, "message": message})
    request.session["flash"] = messages[-5:]


def pop_flashes(request: Request) -> list[dict[str, str]]:
    messages = request.session.pop("flash", [])
    return messages if isinstance(messages, list) else []
