"""Taxonomy forms that move labels or pin examples: merge, delete, pin and unpin."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app.auth.deps import PageUser
from app.db import SessionDep
from app.errors import DomainError, NotFound
from app.images import examples
from app.images import service as images
from app.labeling import category_labels as labels
from app.labeling.taxonomy_page import FormStr, change
from app.projects import service as projects
from app.taxonomy import service
from app.taxonomy.schemas import CategoryMerge, ExamplePin
from app.validation import Id
from app.web.flash import flash
from app.web.forms import parse_form, parse_form_id

router = APIRouter()


def _labels_moved(count: int) -> str:
    return f"{count} label{'s' if count != 1 else ''}"


@router.post("/projects/{project_id}/taxonomy/{category_id}/merge")
def merge_category(
    request: Request,
    project_id: Id,
    category_id: Id,
    session: SessionDep,
    user: PageUser,
    into_id: FormStr = "",
) -> Response:
    project = projects.get_managed_project(session, user, project_id)
    category = service.category_in_project(session, project, category_id)

    def act() -> str:
        body = parse_form(CategoryMerge, {"into_id": into_id or None})
        name = category.name
        moved = labels.label_refs(session, category.id).total
        into = labels.merge_category(session, project, category, body.into_id)
        return f"Merged {name} into {into.name}: {_labels_moved(moved)} moved."

    return change(request, session, user, project, (category_id, {"into_id": into_id}), act)


@router.post("/projects/{project_id}/taxonomy/{category_id}/delete")
def delete_category(
    request: Request,
    project_id: Id,
    category_id: Id,
    session: SessionDep,
    user: PageUser,
    labels_to: FormStr = "",
    move_to: FormStr = "",
) -> Response:
    """``labels_to``: "" (only while no label points at it), "parent", or "other" (move_to)."""
    project = projects.get_managed_project(session, user, project_id)
    category = service.category_in_project(session, project, category_id)
    typed = {"labels_to": labels_to, "move_to": move_to}

    def act() -> str:
        target = parse_form_id("Move to", move_to) if labels_to == "other" else None
        name = category.name
        moved = labels.label_refs(session, category.id).total
        kept = labels.delete_category(
            session, project, category, to_parent=labels_to == "parent", move_to=target
        )
        if kept is None:
            return f"Deleted {name}."
        return f"Deleted {name}; its {_labels_moved(moved)} moved to {kept.name}."

    return change(request, session, user, project, (category_id, typed), act)


@router.post("/projects/{project_id}/examples")
def pin_example(
    request: Request,
    project_id: Id,
    session: SessionDep,
    user: PageUser,
    image_id: FormStr = "",
    category_id: FormStr = "",
    kind: FormStr = "",
) -> Response:
    """From the image page: pin that image as an example; back there with a flash."""
    project = projects.get_managed_project(session, user, project_id)
    image_project, image = images.get_image(session, user, parse_form_id("Image", image_id))
    if image_project.id != project.id:
        raise NotFound(f"No image with id {image.id}.")
    try:
        category = service.category_in_project(
            session, project, parse_form_id("Category", category_id)
        )
        body = parse_form(ExamplePin, {"image_id": image.id, "kind": kind})
        examples.pin_example(session, project, category, image.id, body.kind)
    except DomainError as exc:
        # The form sits on the image page: the error goes back there with what to fix.
        session.rollback()
        flash(request, exc.detail, "error")
    else:
        flash(request, f"Pinned as a {body.kind.value} example of {category.name}.")
    return RedirectResponse(f"/images/{image.id}", status_code=303)


@router.post("/projects/{project_id}/taxonomy/{category_id}/examples/{image_id}/unpin")
def unpin_example(
    request: Request,
    project_id: Id,
    category_id: Id,
    image_id: Id,
    session: SessionDep,
    user: PageUser,
) -> Response:
    project = projects.get_managed_project(session, user, project_id)
    category = service.category_in_project(session, project, category_id)

    def act() -> str:
        examples.unpin_example(session, project, category, image_id)
        return f"Unpinned image {image_id} from {category.name}."

    return change(request, session, user, project, (category_id, {}), act)
