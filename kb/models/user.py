"""People who sign in, their server-side sessions, and organisation requests."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.db import Base, UTCDateTime, utcnow
from kb.models.org import Organisation
from kb.models.taxonomy import Sector


class Role(enum.StrEnum):
    MEMBER = "member"
    EDITOR = "editor"
    ADMIN = "admin"


class EmailFrequency(enum.StrEnum):
    """How a person wants their notifications by email."""

    IMMEDIATELY = "immediately"
    DAILY = "daily"
    WEEKLY = "weekly"
    OFF = "off"


class User(Base):
    """A member of one organisation, an organisation editor, or a site admin.

    A member who registered into an existing organisation has ``approved_at`` unset until an
    editor of that organisation (or an admin) approves them; until then they can only read.
    """

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('member', 'editor', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(20), default=Role.MEMBER.value)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    email_frequency: Mapped[str] = mapped_column(
        String(20), default=EmailFrequency.IMMEDIATELY.value, server_default="immediately"
    )

    organisation: Mapped[Organisation | None] = relationship(lazy="joined")

    # Flask-Login's interface. ``session_token`` is set on the loaded user for the request, so
    # the id Flask-Login stores in the cookie names a server-side session, not the user.
    session_token = None
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return True

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def is_approved(self) -> bool:
        return self.approved_at is not None

    @property
    def role_label(self) -> str:
        return {"member": "Member", "editor": "Organisation editor", "admin": "Site admin"}[
            self.role
        ]

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class UserSession(Base):
    """One signed-in browser. Signing out deletes it, so a replayed cookie finds nothing.

    Only a hash of the token is stored: a copy of the database does not let anyone sign in.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class LoginThrottle(Base):
    """Sign-in attempts counted under one key: an account from one address, an account, an
    address, or a known device (see ``kb/accounts/throttle.py``). Shared by every worker
    process. Times are seconds since the epoch, so that one conditional SQL statement can
    compare and move them on SQLite and PostgreSQL alike."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[float] = mapped_column(Float)  # first attempt of the current count
    last_at: Mapped[float] = mapped_column(Float)  # latest attempt
    wait_until: Mapped[float] = mapped_column(Float)  # no attempt before this, once over
    delay: Mapped[float] = mapped_column(Float)  # the current doubling wait, in seconds


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class OrganisationRequest(Base):
    """A new organisation asked for at registration; a site admin approves or declines it."""

    __tablename__ = "organisation_requests"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'declined')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    sector_id: Mapped[int] = mapped_column(ForeignKey("sectors.id"))
    website: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(20), default=RequestStatus.PENDING.value, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))

    requester: Mapped[User] = relationship()
    sector: Mapped[Sector] = relationship()
    organisation: Mapped[Organisation | None] = relationship()
