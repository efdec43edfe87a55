"""The search change log: a durable record of which entries the search index must re-read.

Rows are written in the same transaction as the change itself (see ``kb/search/changes.py``),
so a committed change is never forgotten and a rolled-back one never recorded.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from kb.db import Base, UTCDateTime, utcnow


class SearchChange(Base):
    """Entry ``entry_id`` changed (or vanished); its index document must be re-read.

    Ids only ever increase (AUTOINCREMENT on SQLite: never reused, even after pruning); the
    index remembers the highest id it has applied.
    """

    __tablename__ = "search_changes"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(Integer)  # no foreign key: deletions are changes too
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<SearchChange {self.id}: entry {self.entry_id}>"
