"""A/B subject tests and local-time sending (issue 18).

- ``edition_variants``: an edition's subject variants, each with its compiled edition.
- ``editions.ab_test`` / ``ab_winner`` / ``ab_decision``: the test's settings, the variant
  the rest of the audience receives, and how it was chosen.
- ``editions.send_at_local``: the wall-clock time each reader receives the edition at.
- ``deliveries.variant`` / ``in_sample``: the variant of a row and whether it was in the
  test's sample; ``deliveries.not_before`` / ``zone``: when a row falls due, and the
  reader's time zone.

Revision ID: 0018a
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0018a"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "edition_variants",
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("variant", sa.Integer(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("preheader", sa.Text(), nullable=False),
        sa.Column("compiled", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["editions.id"],
            name=op.f("fk_edition_variants_edition_id_editions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("edition_id", "variant", name="pk_edition_variants"),
    )
    # Plain ADD COLUMN (nullable, or with a default): no table rebuild on SQLite.
    op.add_column("editions", sa.Column("ab_test", sa.JSON(), nullable=True))
    op.add_column("editions", sa.Column("ab_winner", sa.Integer(), nullable=True))
    op.add_column("editions", sa.Column("ab_decision", sa.JSON(), nullable=True))
    op.add_column("editions", sa.Column("send_at_local", sa.String(length=16), nullable=True))
    op.add_column("deliveries", sa.Column("variant", sa.Integer(), nullable=True))
    op.add_column(
        "deliveries",
        sa.Column("in_sample", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    )
    op.add_column("deliveries", sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
    op.add_column("deliveries", sa.Column("zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("zone")
        batch.drop_column("not_before")
        batch.drop_column("in_sample")
        batch.drop_column("variant")
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("send_at_local")
        batch.drop_column("ab_decision")
        batch.drop_column("ab_winner")
        batch.drop_column("ab_test")
    op.drop_table("edition_variants")
