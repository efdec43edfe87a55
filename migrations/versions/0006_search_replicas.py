"""Search replicas and the change log's pruning horizon

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import kb.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_replicas",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=500), nullable=False),
        sa.Column("applied", sa.Integer(), nullable=False),
        sa.Column("seen_at", kb.db.UTCDateTime(), nullable=False),
        sa.Column("registered_at", kb.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_search_replicas")),
    )
    op.create_table(
        "search_log_horizon",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pruned_through", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_log_horizon")),
    )


def downgrade() -> None:
    op.drop_table("search_log_horizon")
    op.drop_table("search_replicas")
