"""projects: every project's creator is a manager member of it (access comes from membership)

Until now a global manager saw and changed every project, so a creator who was not (or
no longer) a member still ran their project. Access now comes from membership alone:
this keeps those creators in charge by making them manager members. A creator who is a
labeler member is raised to manager.

Only creators whose global role is still admin or manager get it: one demoted to
labeler had no access to a project they did not belong to, and gains none here.

Revision ID: a1c2e3d4f501
Revises: 8d4e3f0a5b64
Create Date: 2026-12-05 12:00:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "a1c2e3d4f501"
down_revision: str | None = "8d4e3f0a5b64"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables as this revision knows them: the models may change after it.
users = sa.table("users", sa.column("id", sa.Integer), sa.column("role", sa.String))
projects = sa.table("projects", sa.column("id", sa.Integer), sa.column("created_by_id", sa.Integer))
memberships = sa.table(
    "memberships",
    sa.column("project_id", sa.Integer),
    sa.column("user_id", sa.Integer),
    sa.column("role", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _creator_may_manage() -> sa.ColumnElement[bool]:
    """The project's creator still holds a global role that could run it."""
    return sa.exists().where(
        users.c.id == projects.c.created_by_id, users.c.role.in_(("admin", "manager"))
    )


def upgrade() -> None:
    is_creators = sa.exists().where(
        projects.c.id == memberships.c.project_id,
        projects.c.created_by_id == memberships.c.user_id,
        _creator_may_manage(),
    )
    op.execute(
        memberships.update()
        .where(memberships.c.role == "labeler", is_creators)
        .values(role="manager")
    )
    already = sa.exists().where(
        memberships.c.project_id == projects.c.id,
        memberships.c.user_id == projects.c.created_by_id,
    )
    # One timestamp for the whole backfill, bound as a parameter: the same on every
    # backend, and in UTC as the app stores it.
    now = sa.literal(datetime.now(UTC), sa.DateTime(timezone=True))
    missing = sa.select(projects.c.id, projects.c.created_by_id, sa.literal("manager"), now).where(
        projects.c.created_by_id.is_not(None), ~already, _creator_may_manage()
    )
    op.execute(
        memberships.insert().from_select(["project_id", "user_id", "role", "created_at"], missing)
    )


def downgrade() -> None:
    # Nothing to undo in the schema. The memberships stay: under the old rules they only
    # repeat what the creator's global role already allowed, and which of them were added
    # here (rather than by hand since) is not recorded.
    pass
