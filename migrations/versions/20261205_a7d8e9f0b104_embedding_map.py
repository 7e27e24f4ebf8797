"""embedding map (placeholder: filled in by the session that builds it)

Revision ID: a7d8e9f0b104
Revises: f6c7d8e9a003
Create Date: 2026-12-05 15:00:00.000000
"""

from collections.abc import Sequence

revision: str = "a7d8e9f0b104"
down_revision: str | None = "f6c7d8e9a003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
