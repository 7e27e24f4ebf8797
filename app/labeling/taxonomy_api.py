from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from app.auth.deps import ApiUser
from app.auth.models import User
from app.db import SessionDep
from app.images import examples
from app.images.schemas import ExamplesOut, image_out
from app.labeling import category_labels as labels
from app.labeling.category_labels import Counts
from app.projects import service as projects
from app.projects.models import Project
from app.taxonomy import service, transfer
from app.taxonomy.models import Category, ExampleKind
from app.taxonomy.schemas import (
    CategoryCreate,
    CategoryMerge,
    CategoryOut,
    CategoryUpdate,
    ExamplePin,
    TaxonomyExport,
    TaxonomyImport,
    TaxonomyImportResult,
)
from app.validation import Id

router = APIRouter(tags=["taxonomy"])


NO_LABELS = Counts(0, 0)


def _out(node: service.Node, counts: dict[int, Counts] | None = None) -> CategoryOut:
    c = node.category
    n = (counts or {}).get(c.id, NO_LABELS)
    return CategoryOut(
        id=c.id,
        name=c.name,
        parent_id=c.parent_id,
        path=node.path,
        depth=node.depth,
        description=c.description,
        color=c.color,
        shortcut=c.shortcut,
        position=c.position,
        image_count=n.image_count,
        subtree_count=n.subtree_count,
    )


def _outs(session: Session, project: Project) -> list[CategoryOut]:
    tree = service.load_tree(session, project)
    counts = labels.subtree_counts(session, project, tree)
    return [_out(node, counts) for node in tree.depth_first()]


def _one_out(session: Session, project: Project, category: Category) -> CategoryOut:
    tree = service.load_tree(session, project)
    return _out(service.node_of(tree, category), labels.subtree_counts(session, project, tree))


def _missing(category_id: int) -> str:
    return f"No category with id {category_id}."


def _visible_category(session: Session, user: User, category_id: int) -> tuple[Project, Category]:
    category = service.get_category(session, category_id)
    # Outsiders get the same 404 as for a missing category, which never names the project.
    missing = _missing(category_id)
    return projects.get_project(session, user, category.project_id, missing=missing), category


def _managed_category(session: Session, user: User, category_id: int) -> tuple[Project, Category]:
    category = service.get_category(session, category_id)
    missing = _missing(category_id)
    return projects.get_managed_project(
        session, user, category.project_id, missing=missing
    ), category


@router.post("/projects/{project_id}/categories", response_model=CategoryOut, status_code=201)
def create_category(
    project_id: Id, body: CategoryCreate, session: SessionDep, user: ApiUser
) -> CategoryOut:
    project = projects.get_managed_project(session, user, project_id)
    # A new category has no labels yet: its counts are zero.
    return _out(service.create_category(session, project, body))


@router.get("/projects/{project_id}/categories", response_model=list[CategoryOut])
def list_categories(project_id: Id, session: SessionDep, user: ApiUser) -> list[CategoryOut]:
    """The tree, parents first, with each node's label counts (its own and its sub-tree's)."""
    project = projects.get_project(session, user, project_id)
    return _outs(session, project)


@router.get("/categories/{category_id}", response_model=CategoryOut)
def get_category(category_id: Id, session: SessionDep, user: ApiUser) -> CategoryOut:
    project, category = _visible_category(session, user, category_id)
    return _one_out(session, project, category)


@router.patch("/categories/{category_id}", response_model=CategoryOut)
def update_category(
    category_id: Id, body: CategoryUpdate, session: SessionDep, user: ApiUser
) -> CategoryOut:
    project, category = _managed_category(session, user, category_id)
    service.update_category(session, project, category, body)
    return _one_out(session, project, category)


@router.delete("/categories/{category_id}", status_code=204)
def delete_category(
    category_id: Id,
    session: SessionDep,
    user: ApiUser,
    labels_to: Annotated[Literal["parent"] | None, Query(alias="labels")] = None,
    move_to: Id | None = None,
) -> Response:
    """Delete a leaf. While labels point at it: 409, unless ``labels=parent`` or ``move_to``
    says where they go."""
    project, category = _managed_category(session, user, category_id)
    labels.delete_category(
        session, project, category, to_parent=labels_to == "parent", move_to=move_to
    )
    return Response(status_code=204)


@router.post("/categories/{category_id}/merge", response_model=CategoryOut)
def merge_category(
    category_id: Id, body: CategoryMerge, session: SessionDep, user: ApiUser
) -> CategoryOut:
    """Merge into ``into_id``: labels and children move there; this category goes."""
    project, category = _managed_category(session, user, category_id)
    into = labels.merge_category(session, project, category, body.into_id)
    return _one_out(session, project, into)


def _examples_out(session: Session, category_id: int) -> ExamplesOut:
    found = examples.examples_of(session, category_id)
    return ExamplesOut(
        positive=[image_out(i) for i in found[ExampleKind.positive]],
        negative=[image_out(i) for i in found[ExampleKind.negative]],
    )


@router.get("/categories/{category_id}/examples", response_model=ExamplesOut)
def list_examples(category_id: Id, session: SessionDep, user: ApiUser) -> ExamplesOut:
    _, category = _visible_category(session, user, category_id)
    return _examples_out(session, category.id)


@router.post(
    "/categories/{category_id}/examples",
    response_model=ExamplesOut,
    status_code=201,
    responses={200: {"description": "Already pinned: the kind is set, nothing added"}},
)
def pin_example(
    category_id: Id, body: ExamplePin, session: SessionDep, user: ApiUser, response: Response
) -> ExamplesOut:
    """Pin an image of the project; pinning it again with the other kind switches it."""
    project, category = _managed_category(session, user, category_id)
    if not examples.pin_example(session, project, category, body.image_id, body.kind):
        response.status_code = 200
    return _examples_out(session, category.id)


@router.delete("/categories/{category_id}/examples/{image_id}", status_code=204)
def unpin_example(category_id: Id, image_id: Id, session: SessionDep, user: ApiUser) -> Response:
    project, category = _managed_category(session, user, category_id)
    examples.unpin_example(session, project, category, image_id)
    return Response(status_code=204)


@router.get(
    "/projects/{project_id}/taxonomy",
    response_model=TaxonomyExport,
    responses={200: {"content": {"text/plain": {}}}},
)
def export_taxonomy(
    project_id: Id, session: SessionDep, user: ApiUser, format: Literal["json", "text"] = "json"
) -> TaxonomyExport | PlainTextResponse:
    """The whole tree, nested JSON or indented text (two spaces a level)."""
    project = projects.get_project(session, user, project_id)
    specs = transfer.export_specs(session, project)
    if format == "text":
        return PlainTextResponse(transfer.to_indented(specs) + "\n" if specs else "")
    return TaxonomyExport(categories=specs)


@router.post("/projects/{project_id}/taxonomy", response_model=TaxonomyImportResult)
def import_taxonomy(
    project_id: Id, body: TaxonomyImport, session: SessionDep, user: ApiUser
) -> TaxonomyImportResult:
    """Merge a tree in: existing names are reused, the rest created; all or nothing."""
    project = projects.get_managed_project(session, user, project_id)
    specs = (
        body.categories if body.categories is not None else transfer.parse_indented(body.text or "")
    )
    created, existing = transfer.import_tree(session, project, specs)
    return TaxonomyImportResult(
        created=created, existing=existing, categories=_outs(session, project)
    )
