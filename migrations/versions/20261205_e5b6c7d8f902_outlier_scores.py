"""outlier scores: no schema change

The outlier_scores table came with d4a5b6c7e801; this revision was reserved for extra
columns that the scorer turned out not to need. It stays so that the chain is unchanged.

Revision ID: e5b6c7d8f902
Revises: d4a5b6c7e801
Create Date: 2026-12-05 15:00:00.000000
"""

from collections.abc import Sequence

revision: str = "e5b6c7d8f902"
down_revision: str | None = "d4a5b6c7e801"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
