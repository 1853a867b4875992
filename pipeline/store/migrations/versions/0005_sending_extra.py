"""Schema changes for the sending-engine stage after the first release (none yet).

Revision ID: 0005
Revises: 0004
"""

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add sending-engine columns or tables here, with their downgrade below."""


def downgrade() -> None:
    """Undo upgrade()."""
