"""review dismissals (placeholder: filled in by the session that builds it)

Revision ID: b8e9f0a1c205
Revises: a7d8e9f0b104
Create Date: 2026-12-05 15:00:00.000000
"""

from collections.abc import Sequence

revision: str = "b8e9f0a1c205"
down_revision: str | None = "a7d8e9f0b104"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
