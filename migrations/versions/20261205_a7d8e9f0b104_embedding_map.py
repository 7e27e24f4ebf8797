"""embedding map: each project's fitted 2-D layout and one point per embedded image

The worker lays a project's images out on a plane from their backbone embeddings; the
map row names the layout file that places images added later and how many the map was
fitted on (a fifth more placed ones trigger a refit).

Revision ID: a7d8e9f0b104
Revises: f6c7d8e9a003
Create Date: 2026-12-05 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "a7d8e9f0b104"
down_revision: str | None = "f6c7d8e9a003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _project() -> sa.Column[int]:
    return sa.Column(
        "project_id",
        sa.Integer(),
        sa.ForeignKey("projects.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "embedding_maps",
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("backbone", sa.String(64), nullable=False),
        sa.Column("layout_file", sa.String(80), nullable=False),
        sa.Column("fitted", sa.Integer(), nullable=False),
        sa.Column("fitted_at", app.db.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "embedding_map_points",
        sa.Column(
            "image_id",
            sa.Integer(),
            sa.ForeignKey("images.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        _project(),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("placed", sa.Boolean(), nullable=False),
    )
    op.create_index(
        "ix_embedding_map_points_project", "embedding_map_points", ["project_id", "image_id"]
    )


def downgrade() -> None:
    op.drop_table("embedding_map_points")
    op.drop_table("embedding_maps")
