"""review queues over the insights: dismissals ("keep") and two more queue modes

The "Odd pictures" queue records a reviewer's keep in ``review_dismissals`` so it does
not ask again; a lease may now come from the "label_issues" and "odd_pictures" queues,
so the check constraint on ``leases.mode`` lists them.

Revision ID: b8e9f0a1c205
Revises: a7d8e9f0b104
Create Date: 2026-12-05 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "b8e9f0a1c205"
down_revision: str | None = "a7d8e9f0b104"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MODES_OLD = ("label", "review", "rejected", "disagreements", "predicted")
MODES_NEW = (*MODES_OLD, "label_issues", "odd_pictures")


# SQLite rebuilds "leases" to change its check constraint, and refuses to while this
# trigger on "annotations" names the table (migration 7c3d2e9f4a53 made it): it is
# dropped for the rebuild and made again, word for word.
SQLITE_TRIGGER = """
CREATE TRIGGER annotations_set_label AFTER INSERT ON annotations
BEGIN
    UPDATE images
    SET category_id = NEW.category_id,
        status = CASE WHEN NEW.rejected THEN 'rejected'
                      WHEN NEW.category_id IS NULL THEN 'unlabeled'
                      ELSE 'labeled' END
    WHERE id = NEW.image_id AND NOT NEW.second_opinion;
    DELETE FROM leases WHERE image_id = NEW.image_id AND user_id = NEW.user_id;
END
"""


def _modes(modes: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{m}'" for m in modes)
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS annotations_set_label")
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_leases_queue_mode"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_leases_queue_mode"), sa.text(f"mode IN ({listed})")
        )
    if sqlite:
        op.execute(SQLITE_TRIGGER)


def upgrade() -> None:
    op.create_table(
        "review_dismissals",
        sa.Column(
            "image_id",
            sa.Integer(),
            sa.ForeignKey("images.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("queue", sa.String(length=16), primary_key=True),
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_review_dismissals_project_id", "review_dismissals", ["project_id"])
    _modes(MODES_NEW)


def downgrade() -> None:
    # Leases from the new queues would break the narrower constraint; a lease is only a
    # hold on an image for a few minutes, so they are given up.
    op.execute(sa.text("DELETE FROM leases WHERE mode IN ('label_issues', 'odd_pictures')"))
    _modes(MODES_OLD)
    op.drop_index("ix_review_dismissals_project_id", table_name="review_dismissals")
    op.drop_table("review_dismissals")
