"""Following, notifications and the email outbox.

- ``Follow``: a person follows an entry, a sector, channel, topic or organisation, or a saved
  search. Nobody but the follower ever sees it.
- ``Notification``: one thing that happened, for one person (an inbox row). One change gives a
  person one notification, however many of their follows it matches.
- ``OutboxMessage``: an email to send, written in the same transaction as the change that
  caused it, so a rolled-back change sends nothing and a crash loses nothing. Its
  ``message_id`` is fixed when it is written: a re-send after a crash carries the same one.
- ``ReviewReminder``: that an entry's review reminder for a date was sent, so it never is twice.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.db import Base, UTCDateTime, utcnow
from kb.models.entry import Entry
from kb.models.user import User


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class FollowKind(enum.StrEnum):
    ENTRY = "entry"
    SECTOR = "sector"
    CHANNEL = "channel"
    TOPIC = "topic"
    ORGANISATION = "organisation"
    SEARCH = "search"


class Follow(Base):
    """``user`` follows one thing: ``target_id`` names it, or ``query`` (a search's query
    string, as ``/search`` takes it) with a ``name`` the person chose."""

    __tablename__ = "follows"
    __table_args__ = (
        CheckConstraint(_in("kind", FollowKind), name="kind"),
        UniqueConstraint("user_id", "kind", "target_id", "query", name="uq_follows_thing"),
        Index("ix_follows_kind_target", "kind", "target_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int] = mapped_column(Integer, default=0)  # 0 for a search
    query: Mapped[str] = mapped_column(String(600), default="")
    name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class Event(enum.StrEnum):
    """What a notification is about."""

    PUBLISHED = "published"  # a followed thing gained a published entry
    REVISED = "revised"  # ... or a published entry a new revision
    BORROWED = "borrowed"  # your organisation's entry was borrowed
    ADOPTED = "adopted"  # ... used as it is
    ASKED = "asked"  # ... asked for (ask first)
    GRANTED = "granted"  # your request to borrow was granted
    DECLINED = "declined"  # ... or declined
    UPSTREAM = "upstream"  # the original of your organisation's copy changed
    JOIN_REQUESTED = "join_requested"  # someone asks to join your organisation
    APPROVED = "approved"  # your membership was approved
    REVIEW_SOON = "review_soon"  # an entry of yours is due for review in 30 days
    REVIEW_DUE = "review_due"  # ... today


class Notification(Base):
    """One thing that happened, for one person."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(_in("event", Event), name="event"),
        Index("ix_notifications_inbox", "user_id", "read_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(20))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"))
    revision: Mapped[int | None] = mapped_column(Integer)
    # Who did it, in words fixed when it happened (an organisation or a person's name).
    actor: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[str] = mapped_column(Text, default="")  # an edit summary, a reason
    subject_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE")
    )  # the person asking to join
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When it went (or was rolled) into an email: immediately, or in a digest.
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    entry: Mapped[Entry | None] = relationship()


class OutboxMessage(Base):
    """An email waiting to be delivered, or delivered: one notification, or a digest of
    several. Its text is made when it is sent, from rows that never change, so a re-send
    after a crash is the same email with the same ``message_id``."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    notification_ids: Mapped[str] = mapped_column(Text)  # a JSON list
    digest: Mapped[str] = mapped_column(String(20), default="")  # "", "daily" or "weekly"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    given_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(500), default="")


class ReviewReminder(Base):
    """A review reminder sent for an entry and review date, at one of the two stages."""

    __tablename__ = "review_reminders"
    __table_args__ = (
        UniqueConstraint("entry_id", "review_by", "stage", name="uq_review_reminders_once"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"))
    review_by: Mapped[date] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
