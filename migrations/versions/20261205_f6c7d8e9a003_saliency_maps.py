"""saliency maps (placeholder: filled in by the session that builds it)

Revision ID: f6c7d8e9a003
Revises: e5b6c7d8f902
Create Date: 2026-12-05 15:00:00.000000
"""

from collections.abc import Sequence

revision: str = "f6c7d8e9a003"
down_revision: str | None = "e5b6c7d8f902"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
