"""The catalogue's version for cached pages, and each entry's stored related entries

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 08:20:00
"""

import sqlalchemy as sa
from alembic import op

import kb.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    state = op.create_table(
        "catalogue_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", kb.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_state")),
    )
    op.bulk_insert(state, [{"id": 1, "version": 1, "changed_at": kb.db.utcnow()}])
    op.create_table(
        "related_entries",
        sa.Column("entry_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("related_ids", sa.String(length=200), nullable=False),
        sa.Column("computed_through", sa.Integer(), nullable=False),
        sa.Column("computed_at", kb.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["entries.id"],
            name=op.f("fk_related_entries_entry_id_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_related_entries")),
    )
    # Whether an entry changed since its related entries were worked out: one index lookup.
    op.create_index("ix_search_changes_entry_id", "search_changes", ["entry_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_search_changes_entry_id", table_name="search_changes")
    op.drop_table("related_entries")
    op.drop_table("catalogue_state")
