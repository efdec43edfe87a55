"""When each entry was first published, for sorting newest first

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 05:05:00
"""

import sqlalchemy as sa
from alembic import op

import kb.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place, never by copying the table (see 0005): entries is referenced by many.
    op.add_column("entries", sa.Column("published_at", kb.db.UTCDateTime(), nullable=True))
    op.create_index(op.f("ix_entries_published_at"), "entries", ["published_at"])
    # Earlier versions kept no date of publication. Entries that are public now were published
    # when they were created, as far as anyone can tell: drafts were rare and short-lived.
    op.execute(
        "UPDATE entries SET published_at = created_at WHERE status IN ('published', 'archived')"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_entries_published_at"), table_name="entries")
    op.drop_column("entries", "published_at")
