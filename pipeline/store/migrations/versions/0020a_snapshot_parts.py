"""A snapshot taken in two parts (PostgreSQL): ``editions.snapshot_after`` is the subscriber
id after which the rest of the audience is still to be added (NULL: the whole audience is
in the ledger).

Revision ID: 0020a
Revises: 0012a
"""

import sqlalchemy as sa
from alembic import op

revision = "0020a"
down_revision = "0012a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("editions", sa.Column("snapshot_after", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("snapshot_after")
