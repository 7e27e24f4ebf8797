"""jobs: claim owners, heartbeats and dispatch times (runs and imports as an outbox)

Revision ID: c3e4f5a6b703
Revises: b2d3e4f5a602
Create Date: 2026-12-05 12:00:00.000000
"""

from collections.abc import Sequence

revision: str = "c3e4f5a6b703"
down_revision: str | None = "b2d3e4f5a602"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
