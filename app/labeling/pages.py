"""The labeling screen and the grid: server-rendered shells that the browser's scripts drive
through the labeling API (queue, annotations, undo, bulk); and keeping one of a near-duplicate
group, which rejects the others."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app.auth.deps import PageUser
from app.db import SessionDep
from app.images import service as images
from app.images.labels_view import labels_of
from app.images.models import Image, ImageStatus
from app.images.params import parse_page
from app.labeling import counters, duplicates
from app.labeling.schemas import QueueOrder
from app.labeling.training_port import model_tiles
from app.projects import service as projects
from app.projects.choices import STRATEGIES as AL_STRATEGIES
from app.projects.models import Project
from app.taxonomy import service as taxonomy
from app.validation import MAX_ID, Id
from app.web.flash import flash
from app.web.forms import FormError, parse_form_id
from app.web.templates import render

router = APIRouter()

Param = Annotated[str, Query(max_length=100)]
FormStr = Annotated[str, Form(max_length=100)]
QUEUE_ORDERS: tuple[QueueOrder, ...] = get_args(QueueOrder)
MODES = ("label", "review", "rejected")
# Settling disagreements and the insights' review queues are a manager's job.
MANAGER_MODES = ("disagreements", "label_issues", "odd_pictures")
REVIEW_MODES = ("label_issues", "odd_pictures")
GRID_STATUSES = ("unlabeled", "labeled", "rejected", "all")
GRID_PAGE_SIZE = 48
GRID_IDS = 500  # a selection the grid opens (the map links its first 500)
# The reject reasons, each with its key in the reason picker; the last takes free text.
REASONS = (
    ("1", "out of scope"),
    ("2", "ambiguous"),
    ("3", "bad quality"),
    ("4", "duplicate"),
)


def _choice(field: str, raw: str, allowed: tuple[str, ...], default: str) -> str:
    value = raw.strip() or default
    if value not in allowed:
        raise FormError(f"{field}: {value[:40]!r} is not one of {', '.join(allowed)}.")
    return value


def _categories(session: SessionDep, project: Project) -> list[dict[str, Any]]:
    """The tree, parents before children, as the scripts and templates need it."""
    tree = taxonomy.load_tree(session, project)
    return [
        {
            "id": n.category.id,
            "name": n.category.name,
            "path": n.path,
            "parent_id": n.category.parent_id,
            "depth": n.depth,
            "shortcut": n.category.shortcut,
            "color": n.category.color,
            "description": n.category.description,
            "has_children": bool(tree.children.get(n.category.id)),
        }
        for n in tree.depth_first()
    ]


def _ids(raw: str) -> list[int]:
    """A selection handed over by another page (the embedding map): image ids, commas."""
    parts = [p for p in raw.split(",") if p.strip()]
    if len(parts) > GRID_IDS:
        raise FormError(f"Images: at most {GRID_IDS} ids at once.")
    if not all(p.strip().isdigit() and 0 < int(p) <= MAX_ID for p in parts):
        raise FormError("Images: comma-separated image ids, e.g. ids=12,13.")
    return sorted({int(p) for p in parts})


def _category(session: SessionDep, project: Project, raw: str) -> int | None:
    """A blank category means any; otherwise it must be one of this project's (else 404)."""
    category_id = parse_form_id("Category", raw) if raw.strip() else None
    if category_id is not None:
        taxonomy.category_in_project(session, project, category_id)
    return category_id


@router.get("/projects/{project_id}/label")
def label_page(
    request: Request,
    project_id: Id,
    session: SessionDep,
    user: PageUser,
    strategy: Param = "active",
    mode: Param = "label",
    category_id: Param = "",
    ranking: Param = "",
) -> Response:
    project = projects.get_project(session, user, project_id)
    modes = (*MODES, *MANAGER_MODES) if projects.can_manage(session, user, project) else MODES
    categories = _categories(session, project)
    settings = {
        "project_id": project.id,
        "strategy": _choice("Strategy", strategy, QUEUE_ORDERS, "active"),
        "mode": _choice("Mode", mode, modes, "label"),
        "category_id": _category(session, project, category_id),
        # Active learning: this session's ranking; blank follows the project's default.
        "ranking": _choice("Ranking", ranking, ("", *AL_STRATEGIES), ""),
        "categories": [{k: v for k, v in c.items() if k != "description"} for c in categories],
        "reasons": [{"key": k, "text": t} for k, t in REASONS],
        "out_of_scope": REASONS[0][1],  # the odd-pictures queue's one-key rejection
        "prefetch": 3,
    }
    context = {
        "project": project,
        "categories": categories,
        "settings": settings,
        "reasons": REASONS,
        "queue_orders": QUEUE_ORDERS,
        "rankings": AL_STRATEGIES,
        "default_ranking": project.default_strategy,
        "modes": modes,
        "review_mode": settings["mode"] in REVIEW_MODES,
        "out_of_scope": REASONS[0][1],
    }
    return render(request, "labeling/label.html", context, user=user)


@router.get("/projects/{project_id}/grid")
def grid_page(
    request: Request,
    project_id: Id,
    session: SessionDep,
    user: PageUser,
    status: Param = "unlabeled",
    category_id: Param = "",
    page: Param = "1",
    ids: Annotated[str, Query(max_length=GRID_IDS * 11)] = "",
) -> Response:
    project = projects.get_project(session, user, project_id)
    chosen = _choice("Status", status, GRID_STATUSES, "unlabeled")
    only = _ids(ids)  # another project's ids match none of this project's images
    category = _category(session, project, category_id)
    number = parse_page(page)
    labels = labels_of(session, project)
    found, total = images.list_images(
        session,
        project,
        images.ImageFilter(
            status=None if chosen == "all" else ImageStatus(chosen), category_id=category
        ),
        sort="oldest",
        limit=GRID_PAGE_SIZE,
        offset=(number - 1) * GRID_PAGE_SIZE,
        extra=[Image.id.in_(only)] if only else (),
    )
    categories = _categories(session, project)

    def url(**changes: object) -> str:
        params = {
            "status": chosen,
            "category_id": category or "",
            "ids": ",".join(map(str, only)),
            "page": number,
            **changes,
        }
        query = "&".join(f"{k}={v}" for k, v in params.items() if v not in ("", None))
        return f"/projects/{project.id}/grid?{query}"

    context = {
        "project": project,
        "tiles": model_tiles(session, project, labels, found),
        "total": total,
        "page": number,
        "pages": max(1, -(-total // GRID_PAGE_SIZE)),
        "status": chosen,
        "statuses": GRID_STATUSES,
        "category_id": category,
        "categories": categories,
        "selection": len(only),
        "reasons": REASONS,
        "url": url,
        "settings": {
            "project_id": project.id,
            "categories": [{k: v for k, v in c.items() if k != "description"} for c in categories],
            "reasons": [{"key": k, "text": t} for k, t in REASONS],
        },
    }
    return render(request, "labeling/grid.html", context, user=user)


@router.get("/projects/{project_id}/counters/_table")
def counters_partial(
    request: Request, project_id: Id, session: SessionDep, user: PageUser
) -> Response:
    """Each labeler's labels today, this week and in the last hour, for the project page."""
    project = projects.get_project(session, user, project_id)
    context = {"project": project, "counters": counters.counters(session, project).users}
    return render(request, "labeling/_counters.html", context, user=user)


@router.post("/projects/{project_id}/duplicates/{group_id}/keep")
def keep_one(
    request: Request,
    project_id: Id,
    group_id: Id,
    session: SessionDep,
    user: PageUser,
    image_id: FormStr = "",
    page: FormStr = "1",
) -> Response:
    """The Duplicates page's "keep this one": the others of its group are rejected."""
    # Any member may: rejecting near duplicates is labeling work, not project management.
    project = projects.get_project(session, user, project_id)
    wanted = parse_form_id("Image", image_id)
    image = duplicates.image_in_group(session, project, group_id, wanted)
    rejected = duplicates.keep_one(session, image, user.id)
    flash(request, f"Kept image {image.id}; rejected {rejected} near duplicates.")
    number = parse_page(page)
    target = f"/projects/{project.id}/duplicates" + (f"?page={number}" if number > 1 else "")
    return RedirectResponse(f"{target}#group-{group_id}", status_code=303)
