"""auth: server-side login sessions and login throttling by address and username

Revision ID: b2d3e4f5a602
Revises: a1c2e3d4f501
Create Date: 2026-12-05 12:00:00.000000
"""

from collections.abc import Sequence

revision: str = "b2d3e4f5a602"
down_revision: str | None = "a1c2e3d4f501"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
