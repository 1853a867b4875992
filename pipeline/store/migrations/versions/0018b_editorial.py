"""Editorial review: one row per issue under review (its state, who submitted and approved
it, the hash of its files at approval) and the log of every review step.

Revision ID: 0018b
Revises: 0018a
"""

import sqlalchemy as sa
from alembic import op

revision = "0018b"
down_revision = "0018a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issue_reviews",
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("submitted_by", sa.String(length=100), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_hash", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_issue_reviews")),
    )
    op.create_table(
        "issue_review_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["slug"],
            ["issue_reviews.slug"],
            name=op.f("fk_issue_review_log_slug_issue_reviews"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issue_review_log")),
    )
    op.create_index("ix_issue_review_log_slug", "issue_review_log", ["slug", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_issue_review_log_slug", table_name="issue_review_log")
    op.drop_table("issue_review_log")
    op.drop_table("issue_reviews")
