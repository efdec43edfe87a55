"""What pages may be served from a cache, and what an entry page shows beside the entry.

``catalogue_state`` holds one row: a version that moves whenever a transaction changes
something an anonymous reader can see (see ``kb/caching/versions.py``), and when. Cached pages
and the validators sent to browsers and proxies (``ETag``, ``Last-Modified``) derive from it.

``related_entries`` keeps each published entry's "Related across sectors" list, worked out
from the search index once per change instead of on every view (``kb/entries/related.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kb.db import Base, UTCDateTime, utcnow

CATALOGUE_ROW = 1


class CatalogueState(Base):
    __tablename__ = "catalogue_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RelatedEntries(Base):
    """The entries most like ``entry_id`` from other sectors, best first, as the index saw
    them once it had applied change-log row ``computed_through``."""

    __tablename__ = "related_entries"

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    related_ids: Mapped[str] = mapped_column(String(200), default="")  # "12,7,40"
    computed_through: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
