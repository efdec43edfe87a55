"""Entries (case studies and guidance) and their append-only revisions."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    event,
)
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from kb.db import Base, UTCDateTime, utcnow
from kb.licences import DEFAULT_LICENCE, LICENCES
from kb.models.org import Organisation
from kb.models.taxonomy import Channel, Sector, Topic
from kb.models.user import User


class Labelled(enum.StrEnum):
    """A string enum whose members carry the label people see."""

    label: str

    def __new__(cls, value: str, label: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member


class Kind(Labelled):
    CASE_STUDY = "case_study", "Case study"
    GUIDANCE = "guidance", "Guidance"


class Status(Labelled):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


# The statuses anyone may read; a draft is its organisation's business (see permissions.py).
PUBLIC_STATUSES = frozenset({Status.PUBLISHED.value, Status.ARCHIVED.value})


class EvidenceStage(Labelled):
    IDEA = "idea", "Idea"
    TRIED_LOCALLY = "tried-locally", "Tried locally"
    EVALUATED_LOCALLY = "evaluated-locally", "Evaluated locally"
    INDEPENDENTLY_EVALUATED = "independently-evaluated", "Independently evaluated"


class Outcome(Labelled):
    WORKED = "worked", "Worked"
    PROMISING = "promising", "Promising"
    MIXED = "mixed", "Mixed"
    DIDNT_WORK = "didnt-work", "Didn't work"


def _in(column: str, enum_cls: type[enum.StrEnum]) -> str:
    values = ", ".join(f"'{member.value}'" for member in enum_cls)
    return f"{column} IN ({values})"


def _link_table(name: str, target: str) -> Table:
    return Table(
        name,
        Base.metadata,
        Column("entry_id", ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True),
        Column(f"{target}_id", ForeignKey(f"{target}s.id"), primary_key=True, index=True),
    )


entry_sectors = _link_table("entry_sectors", "sector")
entry_channels = _link_table("entry_channels", "channel")
entry_topics = _link_table("entry_topics", "topic")

LICENCE_CODES = tuple(LICENCES)
SUMMARY_MAX = 300


class Entry(Base):
    """A case study or piece of guidance owned by one organisation.

    The text lives in revisions; ``current_revision_number`` names the current one and doubles
    as the version for conditional updates, so two saves on the same base cannot both win.
    """

    __tablename__ = "entries"
    __table_args__ = (
        CheckConstraint(_in("kind", Kind), name="kind"),
        CheckConstraint(_in("status", Status), name="status"),
        CheckConstraint(
            "licence IN ({})".format(", ".join(f"'{c}'" for c in LICENCE_CODES)), name="licence"
        ),
        CheckConstraint(
            f"evidence_stage IS NULL OR {_in('evidence_stage', EvidenceStage)}",
            name="evidence_stage",
        ),
        CheckConstraint(f"outcome IS NULL OR {_in('outcome', Outcome)}", name="outcome"),
        CheckConstraint(
            "kind = 'case_study' OR (evidence_stage IS NULL AND outcome IS NULL)",
            name="case_study_fields",
        ),
        CheckConstraint(f"length(summary) <= {SUMMARY_MAX}", name="summary_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(SUMMARY_MAX))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    origin_sector_id: Mapped[int] = mapped_column(ForeignKey("sectors.id"), index=True)
    licence: Mapped[str] = mapped_column(String(20), default=DEFAULT_LICENCE)
    evidence_stage: Mapped[str | None] = mapped_column(String(30))
    outcome: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=Status.DRAFT.value, index=True)
    review_by: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # When the entry was first published (None while it never has been): "Newest" sorts by it.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    current_revision_number: Mapped[int] = mapped_column(Integer, default=0)
    open_to_any_member: Mapped[bool] = mapped_column(Boolean, default=False)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    origin_sector: Mapped[Sector] = relationship(lazy="joined")
    relevant_sectors: Mapped[list[Sector]] = relationship(
        secondary=entry_sectors, order_by=Sector.position
    )
    channels: Mapped[list[Channel]] = relationship(
        secondary=entry_channels, order_by=Channel.position
    )
    topics: Mapped[list[Topic]] = relationship(secondary=entry_topics, order_by=Topic.position)
    revisions: Mapped[list[Revision]] = relationship(
        back_populates="entry", order_by="Revision.number", passive_deletes=True
    )
    current_revision: Mapped[Revision | None] = relationship(
        primaryjoin=lambda: and_(
            foreign(Revision.entry_id) == Entry.id,
            foreign(Revision.number) == Entry.current_revision_number,
        ),
        viewonly=True,
        uselist=False,
    )

    @property
    def kind_label(self) -> str:
        return Kind(self.kind).label

    @property
    def status_label(self) -> str:
        return Status(self.status).label

    @property
    def evidence_stage_label(self) -> str | None:
        return EvidenceStage(self.evidence_stage).label if self.evidence_stage else None

    @property
    def outcome_label(self) -> str | None:
        return Outcome(self.outcome).label if self.outcome else None

    def is_due_for_review(self, today: date) -> bool:
        return self.review_by is not None and self.review_by < today

    def __repr__(self) -> str:
        return f"<Entry {self.slug}>"


class Revision(Base):
    """One saved version of an entry's text. Append-only: rows are never updated."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("entry_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(SUMMARY_MAX))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edit_summary: Mapped[str] = mapped_column(String(300), default="")
    # The entry's other fields as saved with this revision (see entries/fields.py), so history
    # shows and revert restores tags, licence and dates as well as the text.
    details: Mapped[dict | None] = mapped_column(JSON)

    entry: Mapped[Entry] = relationship(back_populates="revisions")
    author: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<Revision {self.entry_id}#{self.number}>"


class AppendOnlyError(RuntimeError):
    """A revision was about to be changed in place."""


@event.listens_for(Revision, "before_update")
def _refuse_revision_update(_mapper, _connection, target: Revision) -> None:
    raise AppendOnlyError(f"revisions are append-only; write a new one instead of {target!r}")
