"""projects: every project's creator is a manager member of it (access comes from membership)

Revision ID: a1c2e3d4f501
Revises: 8d4e3f0a5b64
Create Date: 2026-12-05 12:00:00.000000
"""

from collections.abc import Sequence

revision: str = "a1c2e3d4f501"
down_revision: str | None = "8d4e3f0a5b64"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
