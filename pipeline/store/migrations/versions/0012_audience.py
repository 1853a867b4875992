"""The audience: subscriber tags, an edition's segment, and the bounce mailbox's record.

- ``subscriber_tags``: one row per (subscriber, tag); tags are lower-case.
- ``editions.segment`` / ``editions.segment_condition``: the segment an edition goes to
  (its name and the condition as it was when the edition was frozen).

Revision ID: 0012
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriber_tags",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_tags_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "tag", name=op.f("pk_subscriber_tags")),
    )
    op.create_index("ix_subscriber_tags_tag", "subscriber_tags", ["tag", "subscriber_id"])
    # Plain ADD COLUMN (nullable): SQLite does it in place, without copying the table.
    op.add_column("editions", sa.Column("segment", sa.String(length=100), nullable=True))
    op.add_column("editions", sa.Column("segment_condition", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("editions", "segment_condition")
    op.drop_column("editions", "segment")
    op.drop_index("ix_subscriber_tags_tag", table_name="subscriber_tags")
    op.drop_table("subscriber_tags")
