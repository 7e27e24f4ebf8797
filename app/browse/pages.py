"""The gallery and one image's page: images with their labels and the newest model's view."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.auth.deps import PageUser
from app.browse import gallery_view, image_view
from app.browse.gallery_query import MAX_LIST, SORTS, STATUSES, GalleryQuery
from app.db import SessionDep
from app.images import service
from app.images.labels_view import labels_of
from app.images.models import ImportBatch
from app.labeling.pages import REASONS
from app.projects import service as projects
from app.taxonomy.service import load_tree
from app.validation import Id
from app.web.templates import render

router = APIRouter()

Param = Annotated[str, Query(max_length=100)]


@router.get("/projects/{project_id}/images")
def gallery_page(
    request: Request,
    project_id: Id,
    session: SessionDep,
    user: PageUser,
    status: Param = "all",
    category: Param = "",
    batch: Param = "",
    group: Param = "",
    near: Param = "",
    sort: Param = "newest",
    page: Param = "1",
    predicted: Param = "",
    min_conf: Param = "",
    max_conf: Param = "",
    disagrees: Param = "",
    q: Param = "",
) -> Response:
    project = projects.get_project(session, user, project_id)
    query = GalleryQuery.parse(
        status,
        category,
        batch,
        group,
        near,
        sort,
        page,
        predicted,
        min_conf,
        max_conf,
        disagrees,
        q,
    )
    context = {
        "project": project,
        "query": query,
        "view": gallery_view.gallery(session, project, query),
        "statuses": STATUSES,
        "sorts": SORTS,
        "page_size": gallery_view.PAGE_SIZE,
    }
    return render(request, "images/gallery.html", context, user=user)


@router.get("/images/{image_id}")
def image_page(
    request: Request,
    image_id: Id,
    session: SessionDep,
    user: PageUser,
    listed: Annotated[str | None, Query(alias="list", max_length=MAX_LIST)] = None,
) -> Response:
    """``list`` is the gallery query the image was opened from: previous / next walk it."""
    project, image = service.get_image(session, user, image_id)
    labels = labels_of(session, project)
    batch = session.get(ImportBatch, image.batch_id) if image.batch_id else None
    run = image_view.newest_model(session, project)
    categories = load_tree(session, project).depth_first()
    context = {
        "project": project,
        "image": image,
        "label": labels.of(image),
        "reason": image_view.rejection_reason(session, image),
        "batch": batch,
        "history": image_view.history(session, labels, image),
        "model": image_view.model_view(session, labels, image, run),
        "nav": image_view.list_nav(session, project, image, listed, run),
        # The "pin as example" form: for those who may edit the taxonomy.
        "can_manage": projects.can_manage(session, user, project) and not project.archived,
        "categories": categories,
        "reasons": REASONS,
        "settings": {
            "image_id": image.id,
            "categories": [
                {"id": n.category.id, "path": n.path, "shortcut": n.category.shortcut}
                for n in categories
            ],
        },
    }
    return render(request, "images/image.html", context, user=user)
