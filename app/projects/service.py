"""Projects, membership and who may see or manage what. No HTTP here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVarTuple

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.db import utcnow
from app.errors import Conflict, Forbidden, NotFound
from app.names import find_lookalike, lookalike_hint, name_key
from app.projects.backbone_catalog import check_backbone
from app.projects.models import Membership, Project, ProjectRole

# The global role says what a user may create; only an admin bypasses membership.
CREATOR_ROLES = (Role.admin, Role.manager)
_Ts = TypeVarTuple("_Ts")


def can_create_projects(user: User) -> bool:
    return user.role in CREATOR_ROLES


def sees_everything(user: User) -> bool:
    return user.role == Role.admin


def _membership(session: Session, project_id: int, user_id: int) -> Membership | None:
    return session.scalar(
        select(Membership).where(Membership.project_id == project_id, Membership.user_id == user_id)
    )


def visible_projects(
    session: Session, user: User, *, include_archived: bool = False
) -> list[Project]:
    """An admin sees every project; anyone else only the projects they belong to."""
    query = only_visible(select(Project), user).order_by(Project.name_key)
    if not include_archived:
        query = query.where(Project.archived_at.is_(None))
    return list(session.scalars(query))


def only_visible(query: Select[*_Ts], user: User) -> Select[*_Ts]:
    """``query`` (which selects from ``Project``) limited to the projects ``user`` may
    see: a join, so that the lookup and the permission are one query."""
    if sees_everything(user):
        return query
    return query.join(
        Membership, (Membership.project_id == Project.id) & (Membership.user_id == user.id)
    )


def get_project(
    session: Session, user: User, project_id: int, *, missing: str | None = None
) -> Project:
    """The project if the user may see it; 404 otherwise, so outsiders learn nothing.

    ``missing`` is the message when the project was reached through one of its rows (a
    category, an image, a run): the 404 names that row, never the project, so that it
    reads the same whether the row does not exist or belongs to a hidden project.
    """
    if sees_everything(user):
        project = session.get(Project, project_id)
    else:
        # One query, not two: every labeling call starts here.
        project = session.scalar(
            only_visible(select(Project), user).where(Project.id == project_id)
        )
    if project is None:
        raise NotFound(missing or f"No project with id {project_id}.")
    return project


def can_manage(session: Session, user: User, project: Project) -> bool:
    if sees_everything(user):
        return True
    member = _membership(session, project.id, user.id)
    return member is not None and member.role == ProjectRole.manager


def get_managed_project(
    session: Session, user: User, project_id: int, *, missing: str | None = None
) -> Project:
    """The project if the user manages it: 404 for outsiders (as ``get_project``), 403 for
    a member who only labels."""
    project = get_project(session, user, project_id, missing=missing)
    if not can_manage(session, user, project):
        raise Forbidden("Only this project's managers can do this; you label in it.")
    return project


def _ensure_name_free(session: Session, name: str, exclude_id: int | None = None) -> str:
    key = name_key(name)
    clash = session.scalar(select(Project).where(Project.name_key == key))
    if clash is not None and clash.id != exclude_id:
        raise Conflict(f"A project named {clash.name!r} already exists.")
    # Look-alikes span every project, seen or not: only "another project" is named.
    others = session.scalars(select(Project.name).where(Project.id != (exclude_id or 0)))
    if find_lookalike(name, others) is not None:
        raise Conflict(
            f"The name {name!r} reads like the name of another project{lookalike_hint(name)}; "
            "choose a name that is told apart at a glance."
        )
    return key


def create_project(session: Session, user: User, name: str, description: str = "") -> Project:
    if not can_create_projects(user):
        raise Forbidden("Only admins and managers can create projects.")
    project = Project(
        name=name,
        name_key=_ensure_name_free(session, name),
        description=description,
        created_by_id=user.id,
    )
    session.add(project)
    session.flush()
    session.add(Membership(project_id=project.id, user_id=user.id, role=ProjectRole.manager))
    session.flush()
    return project


def update_project(
    session: Session,
    project: Project,
    *,
    name: str | None = None,
    description: str | None = None,
    archived: bool | None = None,
    overlap_percent: int | None = None,
    auto_train_every: int | None = None,
    default_strategy: str | None = None,
    backbone: str | None = None,
    test_share: float | None = None,
) -> Project:
    if name is not None and name != project.name:
        project.name_key = _ensure_name_free(session, name, exclude_id=project.id)
        project.name = name
    if description is not None:
        project.description = description
    if archived is not None and archived != project.archived:
        project.archived_at = utcnow() if archived else None
    if overlap_percent is not None:
        project.overlap_percent = overlap_percent
    if auto_train_every is not None:
        project.auto_train_every = auto_train_every
    if default_strategy is not None:
        project.default_strategy = default_strategy
    if backbone is not None:
        check_backbone(session, backbone)
        project.backbone = backbone
    if test_share is not None:
        project.test_share = test_share
    session.flush()
    return project


@dataclass(frozen=True)
class Member:
    user_id: int
    username: str
    role: ProjectRole
    created_at: datetime


def list_members(session: Session, project: Project) -> list[Member]:
    rows = session.execute(
        select(User.id, User.username, Membership.role, Membership.created_at)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project.id)
        .order_by(User.username)
    )
    return [Member(*row) for row in rows]


def add_member(session: Session, project: Project, username: str, role: ProjectRole) -> Member:
    if project.archived:
        raise Conflict("The project is archived; unarchive it to change its members.")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    if _membership(session, project.id, user.id) is not None:
        raise Conflict(f"{username} is already a member of this project.")
    membership = Membership(project_id=project.id, user_id=user.id, role=role)
    session.add(membership)
    session.flush()
    return Member(user.id, user.username, membership.role, membership.created_at)


def remove_member(session: Session, project: Project, user_id: int) -> None:
    """Removing a member revokes access only; their past work stays in the project."""
    if _membership(session, project.id, user_id) is None:
        raise NotFound(f"User {user_id} is not a member of this project.")
    session.execute(
        delete(Membership).where(Membership.project_id == project.id, Membership.user_id == user_id)
    )


def find_project(session: Session, ref: str) -> Project:
    """A project by id or by name (as the CLI takes it); the id wins for a numeric name."""
    project = session.get(Project, int(ref)) if ref.isdigit() and len(ref) < 10 else None
    project = project or session.scalar(select(Project).where(Project.name_key == name_key(ref)))
    if project is None:
        raise NotFound(f"No project with id or name {ref!r}.")
    return project
