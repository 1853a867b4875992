"""The queue of transactional emails (issue 12): confirmation and welcome emails are queued
in the signup's transaction and sent off the request path.

Revision ID: 0012a
Revises: 0019a
"""

import sqlalchemy as sa
from alembic import op

revision = "0012a"
down_revision = "0019a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_queue",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("lists", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_mail_queue_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_queue")),
    )
    op.create_index("ix_mail_queue_status_due_at", "mail_queue", ["status", "due_at"])
    op.create_index("ix_mail_queue_subscriber_id", "mail_queue", ["subscriber_id"])


def downgrade() -> None:
    op.drop_index("ix_mail_queue_subscriber_id", table_name="mail_queue")
    op.drop_index("ix_mail_queue_status_due_at", table_name="mail_queue")
    op.drop_table("mail_queue")
