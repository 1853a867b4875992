"""Schema changes for the feeds stage after the first release (none yet).

Revision ID: 0006
Revises: 0005
"""

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add feeds columns or tables here, with their downgrade below."""


def downgrade() -> None:
    """Undo upgrade()."""
