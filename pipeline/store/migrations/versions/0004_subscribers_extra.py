"""Schema changes for the subscribers stage after the first release (none yet).

Revision ID: 0004
Revises: 0003
"""

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add subscribers columns or tables here, with their downgrade below."""


def downgrade() -> None:
    """Undo upgrade()."""
