"""The shared vocabulary: sectors, channels and topics."""

from __future__ import annotations

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kb.db import Base


class _Term:
    """Columns every vocabulary term has. ``position`` keeps the curated order."""

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.slug}>"


class Sector(_Term, Base):
    """A part of the public sector: police, health, local government, ..."""

    __tablename__ = "sectors"


class Channel(_Term, Base):
    """A way of reaching people: X/Twitter, SMS, QR codes, ..."""

    __tablename__ = "channels"


class Topic(_Term, Base):
    """What an entry is about: emergencies, staff guidance, evaluation, ..."""

    __tablename__ = "topics"


# Each kind of term by the name a facet, filter or URL uses for it.
TERM_MODELS: dict[str, type[Sector] | type[Channel] | type[Topic]] = {
    "sector": Sector,
    "channel": Channel,
    "topic": Topic,
}
