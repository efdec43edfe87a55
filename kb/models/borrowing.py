"""Reuse between organisations: borrowed copies, adoptions and requests to borrow.

Lineage is data, never text in a body: a copy's ``Borrow`` row names its source entry and the
exact source revision it is based on, so credit survives edits, archiving and further copies.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.db import Base, UTCDateTime, utcnow
from kb.models.entry import Entry
from kb.models.org import Organisation
from kb.models.user import User

NOTE_MAX = 1000


class Borrow(Base):
    """Entry ``entry`` is an adapted copy of ``source``.

    ``source_revision`` is the source revision the copy's text is based on; merging upstream
    changes moves it forward. ``borrowed_revision`` and ``licence`` record what was first
    taken and under which terms. ``dismissed_revision`` hides the "the original has changed"
    notice until the source moves past it.
    """

    __tablename__ = "borrows"
    __table_args__ = (CheckConstraint("entry_id != source_id", name="not_itself"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), unique=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    source_revision: Mapped[int] = mapped_column(Integer)
    borrowed_revision: Mapped[int] = mapped_column(Integer)
    licence: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    dismissed_revision: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entry: Mapped[Entry] = relationship(foreign_keys=[entry_id])
    source: Mapped[Entry] = relationship(foreign_keys=[source_id])
    created_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<Borrow {self.entry_id} from {self.source_id}#{self.source_revision}>"


class Adoption(Base):
    """``organisation`` uses ``entry`` as it is (revision ``revision`` when it said so)."""

    __tablename__ = "adoptions"
    __table_args__ = (UniqueConstraint("organisation_id", "entry_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    entry: Mapped[Entry] = relationship()
    created_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<Adoption {self.entry_id} by {self.organisation_id}>"


class BorrowRequestStatus(enum.StrEnum):
    PENDING = "pending"
    GRANTED = "granted"
    DECLINED = "declined"


class BorrowRequest(Base):
    """``organisation`` asked to adapt an "ask first" entry; its owners grant or decline."""

    __tablename__ = "borrow_requests"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'granted', 'declined')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=BorrowRequestStatus.PENDING.value)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    entry: Mapped[Entry] = relationship()
    organisation: Mapped[Organisation] = relationship(lazy="joined")
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def is_pending(self) -> bool:
        return self.status == BorrowRequestStatus.PENDING.value

    def __repr__(self) -> str:
        return f"<BorrowRequest {self.entry_id} by {self.organisation_id}: {self.status}>"
