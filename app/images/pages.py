"""Image pages: the gallery, one image, near-duplicate groups."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.auth.deps import PageUser
from app.db import SessionDep
from app.images import duplicates, service, views
from app.images import image_page as image_page_views
from app.images.gallery_query import MAX_LIST, SORTS, STATUSES, GalleryQuery
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
) -> Response:
    project = projects.get_project(session, user, project_id)
    query = GalleryQuery.parse(
        status, category, batch, group, near, sort, page, predicted, min_conf, max_conf, disagrees
    )
    context = {
        "project": project,
        "query": query,
        "view": views.gallery(session, project, query),
        "statuses": STATUSES,
        "sorts": SORTS,
        "page_size": views.PAGE_SIZE,
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
    labels = views.labels_of(session, project)
    batch = session.get(ImportBatch, image.batch_id) if image.batch_id else None
    run = image_page_views.newest_model(session, project)
    categories = load_tree(session, project).depth_first()
    context = {
        "project": project,
        "image": image,
        "label": labels.of(image),
        "reason": image_page_views.rejection_reason(session, image),
        "batch": batch,
        "history": image_page_views.history(session, labels, image),
        "model": image_page_views.model_view(session, labels, image, run),
        "nav": image_page_views.list_nav(session, project, image, listed, run),
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


@router.get("/projects/{project_id}/duplicates")
def duplicates_page(
    request: Request, project_id: Id, session: SessionDep, user: PageUser, page: Param = "1"
) -> Response:
    project = projects.get_project(session, user, project_id)
    number = views.parse_page(page)
    context = {
        "project": project,
        "page": number,
        "view": views.duplicate_groups(session, project, number),
    }
    return render(request, "images/duplicates.html", context, user=user)


@router.get("/projects/{project_id}/images/_links")
def image_links(request: Request, project_id: Id, session: SessionDep, user: PageUser) -> Response:
    """The project page's Gallery and Duplicates links, with their counts."""
    project = projects.get_project(session, user, project_id)
    context = {
        "project": project,
        "total": sum(service.status_counts(session, project.id).values()),
        "groups": duplicates.count_groups(session, project.id),
    }
    return render(request, "images/_links.html", context, user=user)
