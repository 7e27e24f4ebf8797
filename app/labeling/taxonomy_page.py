"""What every taxonomy page route shares: render the page, or act, flash and redirect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app.auth.models import User
from app.db import SessionDep
from app.errors import DomainError
from app.labeling.taxonomy_view import taxonomy_view
from app.projects import service as projects
from app.projects.models import Project
from app.web.flash import flash
from app.web.templates import render

FormStr = Annotated[str, Form(max_length=8192)]

# Which form a failed submission re-opens with what was typed: "new" or a category id.
FormFor = str | int


def taxonomy_page(
    request: Request,
    session: SessionDep,
    user: User,
    project: Project,
    *,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    can_manage = projects.can_manage(session, user, project)
    context = {
        "project": project,
        "can_manage": can_manage,
        "view": taxonomy_view(session, project, with_labeled=can_manage),
        "form": {},
        "form_for": None,
        **extra,
    }
    return render(request, "taxonomy/page.html", context, user=user, status_code=status_code)


def change(
    request: Request,
    session: SessionDep,
    user: User,
    project: Project,
    form: tuple[FormFor, dict[str, str]],
    act: Callable[[], str],
) -> Response:
    """Shared shape of every change form: act, flash, redirect; or re-render with the error."""
    try:
        message = act()
    except DomainError as exc:
        session.rollback()
        form_for, typed = form
        return taxonomy_page(
            request,
            session,
            user,
            project,
            error=exc.detail,
            form=typed,
            form_for=form_for,
            status_code=exc.status_code,
        )
    flash(request, message)
    return RedirectResponse(f"/projects/{project.id}/taxonomy", status_code=303)
