"""Search change log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 10:00:00
"""

import sqlalchemy as sa
from alembic import op

import kb.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", kb.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_changes")),
        sqlite_autoincrement=True,
    )
    # Every existing entry needs indexing once.
    op.execute(
        "INSERT INTO search_changes (entry_id, recorded_at) "
        "SELECT id, CURRENT_TIMESTAMP FROM entries ORDER BY id"
    )


def downgrade() -> None:
    op.drop_table("search_changes")
