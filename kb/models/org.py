"""Organisations: the public bodies that own entries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.db import Base, UTCDateTime, utcnow
from kb.models.taxonomy import Sector


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
        return "@" in self.contact and not self.contact.startswith(("http://", "https://"))

    @property
    def contact_href(self) -> str:
        return f"mailto:{self.contact}" if self.contact_is_email else self.contact

    def __repr__(self) -> str:
        return f"<Organisation {self.slug}>"
