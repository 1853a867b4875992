"""Schema changes for the scheduling stage after the first release (none yet).

Revision ID: 0008
Revises: 0007
"""

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add scheduling columns or tables here, with their downgrade below."""


def downgrade() -> None:
    """Undo upgrade()."""
