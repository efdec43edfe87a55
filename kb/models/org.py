"""Organisations: the public bodies that own entries."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from kb.db import Base, UTCDateTime, utcnow
from kb.models.taxonomy import Sector

EMAIL = re.compile(r"[^@\s:/]+@[^@\s/]+\.[^@\s/]+")
WEB_ADDRESS = re.compile(r"https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?", re.IGNORECASE)


def is_email(value: str) -> bool:
    return bool(EMAIL.fullmatch(value))


def is_web_address(value: str) -> bool:
    """An absolute http(s) address with a host: never ``javascript:`` or ``data:``."""
    return bool(WEB_ADDRESS.fullmatch(value))


def name_key(name: str) -> str:
    """What makes two organisation names the same: letters compared without case, accents
    written either way, and no spaces ("Harrowdale  constabulary" is "Harrowdale Constabulary")."""
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())


class Organisation(Base):
    """A public body. ``contact`` is a role mailbox or contact page, never a named person."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # ``name_key(name)``: unique, so no two organisations look alike in lists and credits.
    name_key: Mapped[str] = mapped_column(String(200), unique=True, index=True)
    name_locked: Mapped[bool] = mapped_column(Boolean, default=False)  # only admins rename it
    sector_id: Mapped[int] = mapped_column(ForeignKey("sectors.id"), index=True)
    region: Mapped[str] = mapped_column(String(120), default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str] = mapped_column(String(300), default="")
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sector: Mapped[Sector] = relationship(lazy="joined")

    @validates("name")
    def _keep_key(self, _attribute: str, value: str) -> str:
        self.name_key = name_key(value)
        return value

    @property
    def contact_is_email(self) -> bool:
        return is_email(self.contact)

    @property
    def contact_href(self) -> str:
        """A link for the contact, or "" when it is neither an email nor a web address."""
        if self.contact_is_email:
            return f"mailto:{self.contact}"
        return self.contact if is_web_address(self.contact) else ""

    @property
    def website_href(self) -> str:
        return self.website if is_web_address(self.website) else ""

    def __repr__(self) -> str:
        return f"<Organisation {self.slug}>"


class FormerName(Base):
    """A name an organisation was known by before a rename: shown on its page ("formerly
    ...") and kept from other organisations for a while, so a name cannot be passed on to an
    impostor the moment it is given up."""

    __tablename__ = "organisation_former_names"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    renamed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    renamed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    organisation: Mapped[Organisation] = relationship()
