from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from app.auth.deps import ApiUser
from app.auth.models import User
from app.db import SessionDep
from app.projects import service as projects
from app.projects.models import Project
from app.taxonomy import service, transfer
from app.taxonomy.models import Category
from app.taxonomy.schemas import (
    CategoryCreate,
    CategoryOut,
    CategoryUpdate,
    TaxonomyExport,
    TaxonomyImport,
    TaxonomyImportResult,
)
from app.validation import Id

router = APIRouter(tags=["taxonomy"])


def _out(node: service.Node) -> CategoryOut:
    c = node.category
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
    )


def _managed_category(session: Session, user: User, category_id: int) -> tuple[Project, Category]:
    category = service.get_category(session, category_id)
    # Outsiders get the same 404 as for a missing category (get_project inside).
    return projects.get_managed_project(session, user, category.project_id), category


@router.post("/projects/{project_id}/categories", response_model=CategoryOut, status_code=201)
def create_category(
    project_id: Id, body: CategoryCreate, session: SessionDep, user: ApiUser
) -> CategoryOut:
    project = projects.get_managed_project(session, user, project_id)
    return _out(service.create_category(session, project, body))


@router.get("/projects/{project_id}/categories", response_model=list[CategoryOut])
def list_categories(project_id: Id, session: SessionDep, user: ApiUser) -> list[CategoryOut]:
    project = projects.get_project(session, user, project_id)
    return [_out(node) for node in service.load_tree(session, project).depth_first()]


@router.get("/categories/{category_id}", response_model=CategoryOut)
def get_category(category_id: Id, session: SessionDep, user: ApiUser) -> CategoryOut:
    category = service.get_category(session, category_id)
    project = projects.get_project(session, user, category.project_id)
    return _out(service.node_of(service.load_tree(session, project), category))


@router.patch("/categories/{category_id}", response_model=CategoryOut)
def update_category(
    category_id: Id, body: CategoryUpdate, session: SessionDep, user: ApiUser
) -> CategoryOut:
    project, category = _managed_category(session, user, category_id)
    return _out(service.update_category(session, project, category, body))


@router.delete("/categories/{category_id}", status_code=204)
def delete_category(category_id: Id, session: SessionDep, user: ApiUser) -> Response:
    project, category = _managed_category(session, user, category_id)
    service.delete_category(session, project, category)
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
    nodes = service.load_tree(session, project).depth_first()
    return TaxonomyImportResult(
        created=created, existing=existing, categories=[_out(n) for n in nodes]
    )
