"""labeling: second opinions (an overlap's second label does not replace the first), the
review that resolved a disagreement, bulk requests with an Idempotency-Key, and the
trigger that keeps an image's current label in step with its newest annotation

Revision ID: 7c3d2e9f4a53
Revises: 6b2f1c8d3e42
Create Date: 2026-11-24 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "7c3d2e9f4a53"
down_revision: str | None = "6b2f1c8d3e42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A new annotation sets its image's current label (unless it is a second opinion) and
# drops its author's lease on the image, in the same statement. The labeling screen's
# decisions are then one INSERT that SQLite commits by itself: its single write lock is
# never held while the thread waits to run Python again (see app/labeling/decisions.py).
#
# SQLite drops a table's triggers when the table is rebuilt: a later migration that
# recreates "annotations" (batch mode) must create this trigger again.
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
POSTGRESQL_FUNCTION = """
CREATE FUNCTION annotations_set_label() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT NEW.second_opinion THEN
        UPDATE images
        SET category_id = NEW.category_id,
            status = CASE WHEN NEW.rejected THEN 'rejected'
                          WHEN NEW.category_id IS NULL THEN 'unlabeled'
                          ELSE 'labeled' END
        WHERE id = NEW.image_id;
    END IF;
    DELETE FROM leases WHERE image_id = NEW.image_id AND user_id = NEW.user_id;
    RETURN NULL;
END
$$
"""
POSTGRESQL_TRIGGER = """
CREATE TRIGGER annotations_set_label AFTER INSERT ON annotations
FOR EACH ROW EXECUTE FUNCTION annotations_set_label()
"""


def _create_trigger() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
        op.execute(POSTGRESQL_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def _drop_trigger() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS annotations_set_label ON annotations")
        op.execute("DROP FUNCTION IF EXISTS annotations_set_label()")
    else:
        op.execute("DROP TRIGGER IF EXISTS annotations_set_label")


def upgrade() -> None:
    op.create_table(
        "bulk_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_bulk_requests_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_bulk_requests_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_requests")),
        sa.UniqueConstraint(
            "user_id", "idempotency_key", name=op.f("uq_bulk_requests_user_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bulk_request_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("second_opinion", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_annotations_bulk_request_id"), ["bulk_request_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_annotations_bulk_request_id_bulk_requests"),
            "bulk_requests",
            ["bulk_request_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("overlaps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolution_annotation_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_overlaps_resolution_annotation_id_annotations"),
            "annotations",
            ["resolution_annotation_id"],
            ["id"],
            ondelete="SET NULL",
        )
    _create_trigger()  # after the batch above, which rebuilds "annotations" on SQLite


def downgrade() -> None:
    _drop_trigger()
    with op.batch_alter_table("overlaps", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_overlaps_resolution_annotation_id_annotations"), type_="foreignkey"
        )
        batch_op.drop_column("resolution_annotation_id")
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_annotations_bulk_request_id_bulk_requests"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_annotations_bulk_request_id"))
        batch_op.drop_column("second_opinion")
        batch_op.drop_column("bulk_request_id")
    op.drop_table("bulk_requests")
