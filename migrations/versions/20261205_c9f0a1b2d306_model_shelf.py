"""model shelf: a run's head, a project's held-out test share

``training_runs.head`` names what classifies the embeddings (logreg, svm, mlp); every
run before it was logistic regression. ``projects.test_share`` is the share of labeled
images kept out of every run as a fixed test split; 0 (none) for existing projects.

Revision ID: c9f0a1b2d306
Revises: b8e9f0a1c205
Create Date: 2026-12-05 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c9f0a1b2d306"
down_revision: str | None = "b8e9f0a1c205"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("training_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("head", sa.String(length=16), server_default="logreg", nullable=False)
        )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("test_share", sa.Float(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("test_share")
    with op.batch_alter_table("training_runs", schema=None) as batch_op:
        batch_op.drop_column("head")
