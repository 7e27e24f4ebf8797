"""Jinja2 rendering with what every page needs: user, CSRF token, flash messages."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from app.paths import TEMPLATES_DIR
from app.web.csrf import csrf_token
from app.web.flash import pop_flashes
from app.web.markdown import render_markdown

templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.filters["markdown"] = render_markdown


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    user: object | None = None,  # the logged-in auth.User; web sits below auth
    status_code: int = 200,
) -> Response:
    ctx: dict[str, Any] = {
        "user": user,
        "csrf_token": csrf_token(request),
        "flashes": pop_flashes(request),
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
