"""backbone catalog: reserved for the names a worker publishes (issue 17)

Revision ID: d0a1b2c3e407
Revises: c9f0a1b2d306
Create Date: 2026-12-05 18:00:00.000000
"""

from collections.abc import Sequence

revision: str = "d0a1b2c3e407"
down_revision: str | None = "c9f0a1b2d306"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
