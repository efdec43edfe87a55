"""Organisations: the public bodies that own entries."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.db import Base, UTCDateTime, utcnow
from kb.models.taxonomy import Sector

EMAIL = re.compile(r"[^@\s:/]+@[^@\s/]+\.[^@\s/]+")
WEB_ADDRESS = re.compile(r"https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?", re.IGNORECASE)


def is_email(value: str) -> bool:
    return bool(EMAIL.fullmatch(value))


def is_web_address(value: str) -> bool:
    """An absolute http(s) address with a host: never ``javascript:`` or ``data:``."""
    return bool(WEB_ADDRESS.fullmatch(value))


class Organisation(Base):
    """A public body. ``contact`` is a role mailbox or contact page, never a named person."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    sector_id: Mapped[int] = mapped_column(ForeignKey("sectors.id"), index=True)
    region: Mapped[str] = mapped_column(String(120), default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str] = mapped_column(String(300), default="")
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sector: Mapped[Sector] = relationship(lazy="joined")

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
