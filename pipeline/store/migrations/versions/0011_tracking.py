"""Tracking: the link table of each edition, the human/machine verdict of engagement events,
and a subscriber's choice to turn tracking off.

- ``edition_links``: one row per tracked link of an edition (``link_index`` 0 is the hidden
  honeypot link, 1.. the links of the HTML part in order, then those of the text part),
  with its target URL (UTM tags included) and visible text. The redirect reads targets here.
- ``delivery_events`` gains:
  - ``verdict``: ``human`` or ``machine`` for ``open`` and ``click`` events (NULL for
    other kinds: delivered, bounce, spamreport, unsubscribe, ...). Human figures and
    engagement segments ("clicked or opened by a person in the last N days") read
    ``event IN ('open', 'click') AND verdict = 'human'``.
  - ``reason``: the rule behind a machine verdict (``apple_proxy``, ``prefetch``,
    ``honeypot``, ``burst``, ``head``, ``scanner_agent``, ``proxy_network``,
    ``sg_machine_open``), NULL for a human one.
  - ``link_index``: the clicked link (``edition_links.link_index``), for clicks we track.
  - ``source``: ``sendgrid`` (the Event Webhook), ``tracking`` (our pixel and redirect) or
    ``web`` (our unsubscribe pages).
  No IP address or user agent is stored: they are used for the verdict and dropped.
- ``subscribers.tracking``: false when the person turned tracking off on the preferences
  page (their links are then direct and no pixel is added).

Revision ID: 0011
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "edition_links",
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("link_index", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["editions.id"],
            name=op.f("fk_edition_links_edition_id_editions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("edition_id", "link_index", name=op.f("pk_edition_links")),
    )
    # Plain ADD COLUMN (no table rebuild: on SQLite a rebuild of a parent table would
    # cascade-delete its children).
    op.add_column("delivery_events", sa.Column("verdict", sa.String(length=10), nullable=True))
    op.add_column("delivery_events", sa.Column("reason", sa.String(length=40), nullable=True))
    op.add_column("delivery_events", sa.Column("link_index", sa.Integer(), nullable=True))
    op.add_column(
        "delivery_events",
        sa.Column("source", sa.String(length=20), nullable=False, server_default="sendgrid"),
    )
    op.execute("UPDATE delivery_events SET source = 'web' WHERE provider_event_id IS NULL")
    op.execute("UPDATE delivery_events SET verdict = 'human' WHERE event IN ('open', 'click')")
    op.create_index(
        "ix_delivery_events_delivery_event",
        "delivery_events",
        ["delivery_id", "event", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ix_delivery_events_event_verdict",
        "delivery_events",
        ["event", "verdict", "occurred_at"],
        unique=False,
    )
    op.add_column(
        "subscribers",
        sa.Column("tracking", sa.Boolean(), nullable=False, server_default=sa.text("true")),
    )


def downgrade() -> None:
    op.drop_column("subscribers", "tracking")  # SQLite 3.35+ drops columns in place
    op.drop_index("ix_delivery_events_event_verdict", table_name="delivery_events")
    op.drop_index("ix_delivery_events_delivery_event", table_name="delivery_events")
    for column in ("source", "link_index", "reason", "verdict"):
        op.drop_column("delivery_events", column)
    op.drop_table("edition_links")
