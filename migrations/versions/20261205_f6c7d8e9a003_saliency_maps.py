"""saliency maps: one row per run, image and class, the cache record and its job

A Grad-CAM heat map is made by a worker on first request and kept as a PNG in the data
dir; its row says whether it is queued, running, done or failed, and carries the outbox
columns so a message lost with the broker is sent again.

Revision ID: f6c7d8e9a003
Revises: e5b6c7d8f902
Create Date: 2026-12-05 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "f6c7d8e9a003"
down_revision: str | None = "e5b6c7d8f902"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saliency_maps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey("training_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "image_id", sa.Integer(), sa.ForeignKey("images.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                name="saliency_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("shown_category_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("owner_node", sa.String(length=200), nullable=True),
        sa.Column("owner_host", sa.String(length=255), nullable=True),
        sa.Column("owner_pid", sa.Integer(), nullable=True),
        sa.Column("owner_boot", sa.String(length=32), nullable=True),
        sa.Column("dispatched_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("dispatch_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.UniqueConstraint("run_id", "image_id", "category_id", name="uq_saliency_maps_key"),
    )
    op.create_index("ix_saliency_maps_image_id", "saliency_maps", ["image_id"])


def downgrade() -> None:
    op.drop_table("saliency_maps")
