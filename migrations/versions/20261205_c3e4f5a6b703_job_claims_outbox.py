"""jobs: claim owners, heartbeats and dispatch times (runs and imports as an outbox)

Training runs and import jobs record which process claimed them (Celery node, host,
pid and the node's start) and when their task message last left for the broker.
Workers report themselves alive in ``worker_heartbeats``.

Rows queued before this revision had their message sent when they were created: they
count as dispatched then, so they are sent again only if no worker claims them in time.

Revision ID: c3e4f5a6b703
Revises: b2d3e4f5a602
Create Date: 2026-12-05 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "c3e4f5a6b703"
down_revision: str | None = "b2d3e4f5a602"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JOB_TABLES = ("training_runs", "import_batches")


def _job_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("owner_node", sa.String(length=200), nullable=True),
        sa.Column("owner_host", sa.String(length=255), nullable=True),
        sa.Column("owner_pid", sa.Integer(), nullable=True),
        sa.Column("owner_boot", sa.String(length=32), nullable=True),
        sa.Column("dispatched_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("dispatch_attempts", sa.Integer(), server_default="0", nullable=False),
    ]


def upgrade() -> None:
    for name in JOB_TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            for column in _job_columns():
                batch_op.add_column(column)
        jobs = sa.table(
            name,
            sa.column("task_id", sa.String),
            sa.column("created_at", app.db.UTCDateTime(timezone=True)),
            sa.column("dispatched_at", app.db.UTCDateTime(timezone=True)),
            sa.column("dispatch_attempts", sa.Integer),
        )
        op.execute(
            jobs.update()
            .where(jobs.c.task_id.is_not(None))
            .values(dispatched_at=jobs.c.created_at, dispatch_attempts=1)
        )

    op.create_table(
        "worker_heartbeats",
        sa.Column("boot", sa.String(length=32), nullable=False),
        sa.Column("node", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("queues", sa.String(length=100), nullable=False),
        sa.Column("started_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("boot", name=op.f("pk_worker_heartbeats")),
    )
    with op.batch_alter_table("worker_heartbeats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_worker_heartbeats_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("worker_heartbeats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_worker_heartbeats_seen_at"))
    op.drop_table("worker_heartbeats")
    for name in reversed(JOB_TABLES):
        with op.batch_alter_table(name, schema=None) as batch_op:
            for column in reversed(_job_columns()):
                batch_op.drop_column(column.name)
