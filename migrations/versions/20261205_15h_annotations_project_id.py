"""annotations by project and id: "the project's labels newer than id N" as an index range

Auto-train asks that after labels arrive (app.training.auto.new_labels_since). Without
this index the database read every label of the project to answer, on every check, and
labeling got slower as the project filled up (issue 15).

Revision ID: e1b2c3d4f508
Revises: d0a1b2c3e407
Create Date: 2026-12-05 21:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "e1b2c3d4f508"
down_revision: str | None = "d0a1b2c3e407"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_annotations_project_id_id", "annotations", ["project_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_annotations_project_id_id", table_name="annotations")
