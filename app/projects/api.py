from __future__ import annotations

from fastapi import APIRouter, Response

from app.auth.deps import ApiUser
from app.db import SessionDep
from app.projects import service
from app.projects.models import Project
from app.projects.schemas import MemberAdd, MemberOut, ProjectCreate, ProjectOut, ProjectUpdate
from app.validation import Id

router = APIRouter(prefix="/projects", tags=["projects"])


@router.post("", response_model=ProjectOut, status_code=201)
def create_project(body: ProjectCreate, session: SessionDep, user: ApiUser) -> Project:
    return service.create_project(session, user, body.name, body.description)


@router.get("", response_model=list[ProjectOut])
def list_projects(
    session: SessionDep, user: ApiUser, include_archived: bool = False
) -> list[Project]:
    return service.visible_projects(session, user, include_archived=include_archived)


@router.get("/{project_id}", response_model=ProjectOut)
def get_project(project_id: Id, session: SessionDep, user: ApiUser) -> Project:
    return service.get_project(session, user, project_id)


@router.patch("/{project_id}", response_model=ProjectOut)
def update_project(
    project_id: Id, body: ProjectUpdate, session: SessionDep, user: ApiUser
) -> Project:
    project = service.get_managed_project(session, user, project_id)
    return service.update_project(
        session,
        project,
        name=body.name,
        description=body.description,
        archived=body.archived,
        overlap_percent=body.overlap_percent,
        auto_train_every=body.auto_train_every,
        default_strategy=body.default_strategy,
        backbone=body.backbone,
        test_share=body.test_share,
    )


@router.get("/{project_id}/members", response_model=list[MemberOut])
def list_members(project_id: Id, session: SessionDep, user: ApiUser) -> list[service.Member]:
    return service.list_members(session, service.get_project(session, user, project_id))


@router.post("/{project_id}/members", response_model=MemberOut, status_code=201)
def add_member(
    project_id: Id, body: MemberAdd, session: SessionDep, user: ApiUser
) -> service.Member:
    project = service.get_managed_project(session, user, project_id)
    return service.add_member(session, project, body.username, body.role)


@router.delete("/{project_id}/members/{user_id}", status_code=204)
def remove_member(project_id: Id, user_id: Id, session: SessionDep, user: ApiUser) -> Response:
    project = service.get_managed_project(session, user, project_id)
    service.remove_member(session, project, user_id)
    return Response(status_code=204)
