"""label issues (placeholder: filled in by the session that builds it)

Revision ID: d4a5b6c7e801
Revises: c3e4f5a6b703
Create Date: 2026-12-05 15:00:00.000000
"""

from collections.abc import Sequence

revision: str = "d4a5b6c7e801"
down_revision: str | None = "c3e4f5a6b703"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
