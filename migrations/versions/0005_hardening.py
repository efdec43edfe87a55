"""Hardening: sign-in throttling counters, unique organisation names

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 02:00:00.000000

- ``login_failures`` (one row per failed sign-in) becomes ``login_throttles`` (one counter
  per account, address, account-and-address pair or known device, updated by one conditional
  statement). Failures recorded before the upgrade are dropped: they only ever lasted
  15 minutes.
- Organisations get ``name_key`` (the name without case or spaces; unique), ``name_locked``,
  and ``organisation_former_names``. Where a database already holds organisations whose names
  are the same that way, the one created first keeps its name; each later one is renamed
  "<name> (2)", "<name> (3)" ..., recorded as a rename so its page says what it was called,
  for an admin to settle.
"""

import unicodedata
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
import kb.db


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _name_key(name: str) -> str:
    # As kb.models.org.name_key when this migration was written.
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())


def _unique_names() -> None:
    """Fill ``name_key``, renaming later organisations whose names collide."""
    bind = op.get_bind()
    organisations = sa.table(
        "organisations", sa.column("id"), sa.column("name"), sa.column("name_key")
    )
    former = sa.table(
        "organisation_former_names",
        sa.column("organisation_id"), sa.column("name"), sa.column("name_key"),
        sa.column("renamed_at", kb.db.UTCDateTime()),
    )  # fmt: skip
    rows = bind.execute(
        sa.select(organisations.c.id, organisations.c.name).order_by(organisations.c.id)
    ).all()
    taken = set()
    now = datetime.now(timezone.utc)
    for row_id, name in rows:
        key, new_name, number = _name_key(name), name, 1
        while key in taken:
            number += 1
            new_name = f"{name} ({number})"
            key = _name_key(new_name)
        taken.add(key)
        if new_name != name:
            bind.execute(
                former.insert().values(
                    organisation_id=row_id, name=name, name_key=_name_key(name), renamed_at=now
                )
            )
        bind.execute(
            organisations.update()
            .where(organisations.c.id == row_id)
            .values(name=new_name, name_key=key)
        )


def upgrade() -> None:
    op.create_table(
        "organisation_former_names",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("renamed_at", kb.db.UTCDateTime(), nullable=False),
        sa.Column("renamed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_organisation_former_names_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["renamed_by_id"],
            ["users.id"],
            name=op.f("fk_organisation_former_names_renamed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation_former_names")),
    )
    with op.batch_alter_table("organisation_former_names", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organisation_former_names_name_key"), ["name_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_organisation_former_names_organisation_id"),
            ["organisation_id"],
            unique=False,
        )
    # Added in place, never by copying the table: on SQLite a copy drops the old table, which
    # the foreign keys of users, entries and requests would refuse (or cascade).
    op.add_column(
        "organisations",
        sa.Column("name_key", sa.String(length=200), nullable=False, server_default=""),
    )
    op.add_column(
        "organisations",
        sa.Column("name_locked", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    _unique_names()
    op.create_index(
        op.f("ix_organisations_name_key"), "organisations", ["name_key"], unique=True
    )
    if op.get_bind().dialect.name != "sqlite":  # SQLite cannot drop a default in place
        op.alter_column("organisations", "name_key", server_default=None)
        op.alter_column("organisations", "name_locked", server_default=None)

    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.Float(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.Column("wait_until", sa.Float(), nullable=False),
        sa.Column("delay", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_failures_email"))
        batch_op.drop_index(batch_op.f("ix_login_failures_created_at"))
        batch_op.drop_index(batch_op.f("ix_login_failures_address"))
    op.drop_table("login_failures")


def downgrade() -> None:
    op.drop_index(op.f("ix_organisations_name_key"), table_name="organisations")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("name_locked")
        batch_op.drop_column("name_key")
    with op.batch_alter_table("organisation_former_names", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisation_former_names_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_organisation_former_names_name_key"))
    op.drop_table("organisation_former_names")
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failures_address"), ["address"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_login_failures_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_login_failures_email"), ["email"], unique=False)
    op.drop_table("login_throttles")
