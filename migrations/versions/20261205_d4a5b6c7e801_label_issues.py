"""insights: label issues and outlier scores, one row per run and image

Each run that succeeds scores its project's labeled images for how likely their label
is wrong, and every image for how atypical it is.

Revision ID: d4a5b6c7e801
Revises: c3e4f5a6b703
Create Date: 2026-12-05 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d4a5b6c7e801"
down_revision: str | None = "c3e4f5a6b703"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _keys() -> list[sa.Column[int]]:
    return [
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey("training_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "image_id",
            sa.Integer(),
            sa.ForeignKey("images.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "label_issues",
        *_keys(),
        sa.Column("given_category_id", sa.Integer(), nullable=False),
        sa.Column("suggested_category_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
    )
    op.create_index("ix_label_issues_run_rank", "label_issues", ["run_id", "rank"])
    op.create_index("ix_label_issues_project_image", "label_issues", ["project_id", "image_id"])
    op.create_table(
        "outlier_scores",
        *_keys(),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
    )
    op.create_index("ix_outlier_scores_run_rank", "outlier_scores", ["run_id", "rank"])
    op.create_index("ix_outlier_scores_project_image", "outlier_scores", ["project_id", "image_id"])


def downgrade() -> None:
    op.drop_table("outlier_scores")
    op.drop_table("label_issues")
