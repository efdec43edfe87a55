"""The search change log and the index replicas that follow it.

Rows of ``search_changes`` are written in the same transaction as the change itself (see
``kb/search/changes.py``), so a committed change is never forgotten and a rolled-back one never
recorded. Each index folder (a replica: one per host, or several) registers itself in
``search_replicas`` with how far it has applied the log, so pruning keeps every row a live
replica still needs; ``search_log_horizon`` remembers how far the log has been pruned, so a
replica that was away longer can tell it must rebuild.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kb.db import Base, UTCDateTime, utcnow


class SearchChange(Base):
    """Entry ``entry_id`` changed (or vanished); its index document must be re-read.

    Ids only ever increase (AUTOINCREMENT on SQLite: never reused, even after pruning) and
    become visible in order: they are taken at commit, one transaction at a time, so once an
    id is visible every lower id is settled (committed, or rolled back for good).
    """

    __tablename__ = "search_changes"
    __table_args__ = (
        Index("ix_search_changes_entry_id", "entry_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(Integer)  # no foreign key: deletions are changes too
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<SearchChange {self.id}: entry {self.entry_id}>"


class SearchReplica(Base):
    """One index folder that follows the change log, and how far it has applied it."""

    __tablename__ = "search_replicas"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    location: Mapped[str] = mapped_column(String(500))  # host and folder, for people
    applied: Mapped[int] = mapped_column(Integer, default=0)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<SearchReplica {self.name} at {self.location}: applied {self.applied}>"


class SearchLogHorizon(Base):
    """How far the change log has been pruned: every row up to ``pruned_through`` is gone.

    A single row (id 1). A replica whose applied mark is below it has missed changes."""

    __tablename__ = "search_log_horizon"

    id: Mapped[int] = mapped_column(primary_key=True)
    pruned_through: Mapped[int] = mapped_column(Integer, default=0)
