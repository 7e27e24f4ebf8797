"""backbone catalog: the timm and torchvision names a worker can load (issue 17)

Workers publish the list at start (the web cannot import timm to check a name).

Revision ID: d0a1b2c3e407
Revises: c9f0a1b2d306
Create Date: 2026-12-05 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "d0a1b2c3e407"
down_revision: str | None = "c9f0a1b2d306"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "backbone_catalog",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("feature_dim", sa.Integer(), nullable=True),
        sa.Column("input_size", sa.Integer(), nullable=True),
        sa.Column("download_mb", sa.Float(), nullable=True),
        sa.Column("published_at", app.db.UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("backbone_catalog")
