"""subscribers.public_id: a random identifier for links (never the row id); on SQLite the
table is rebuilt with AUTOINCREMENT so that an erased subscriber's id is never reused
(PostgreSQL's sequence never reuses one); spent_tokens remembers used confirmation links.

Revision ID: 0010
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0011"
branch_labels = None
depends_on = None

#: Filled per row, for existing rows and for raw INSERTs that do not name the column.
DEFAULTS = {
    "sqlite": "(lower(hex(randomblob(16))))",
    "postgresql": "replace(gen_random_uuid()::text, '-', '')",
}


def upgrade() -> None:
    op.create_table(
        "spent_tokens",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_spent_tokens")),
    )
    op.create_index("ix_spent_tokens_expires_at", "spent_tokens", ["expires_at"], unique=False)
    dialect = op.get_bind().dialect.name
    column = sa.Column(
        "public_id",
        sa.String(length=32),
        nullable=False,
        server_default=sa.text(DEFAULTS.get(dialect, DEFAULTS["postgresql"])),
    )
    if dialect == "sqlite":
        # env.py turns foreign keys off for the rebuild, so dropping the old table does not
        # cascade to subscriptions; the rebuild keeps every id.
        with op.batch_alter_table(
            "subscribers", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ) as batch:
            batch.add_column(column)
            batch.create_unique_constraint("uq_subscribers_public_id", ["public_id"])
        problems = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"foreign keys broken by the rebuild: {problems[:5]}")
    else:
        op.add_column("subscribers", column)
        op.create_unique_constraint("uq_subscribers_public_id", "subscribers", ["public_id"])


def downgrade() -> None:
    op.drop_index("ix_spent_tokens_expires_at", table_name="spent_tokens")
    op.drop_table("spent_tokens")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("subscribers", recreate="always") as batch:
            batch.drop_constraint("uq_subscribers_public_id", type_="unique")
            batch.drop_column("public_id")
    else:
        op.drop_constraint("uq_subscribers_public_id", "subscribers", type_="unique")
        op.drop_column("subscribers", "public_id")
