"""Schema changes for the web-app stage after the first release (none yet).

Revision ID: 0007
Revises: 0006
"""

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add web-app columns or tables here, with their downgrade below."""


def downgrade() -> None:
    """Undo upgrade()."""
