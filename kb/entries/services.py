"""Creating entries and writing their revisions. Services take explicit arguments, flush, and
leave the commit to the caller."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy.orm import Session

from kb.db import utcnow
from kb.entries.content import entry_details
from kb.licences import DEFAULT_LICENCE
from kb.models import (
    PUBLIC_STATUSES,
    Channel,
    Entry,
    Organisation,
    Revision,
    Sector,
    Topic,
    User,
)
from kb.rendering import render_markdown


def create_entry(
    session: Session,
    *,
    organisation: Organisation,
    author: User | None,
    slug: str,
    kind: str,
    title: str,
    summary: str,
    body: str,
    relevant_sectors: Sequence[Sector] = (),
    channels: Sequence[Channel] = (),
    topics: Sequence[Topic] = (),
    licence: str = DEFAULT_LICENCE,
    evidence_stage: str | None = None,
    outcome: str | None = None,
    review_by: date | None = None,
    status: str = "draft",
    edit_summary: str = "",
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
) -> Entry:
    """A new entry owned by ``organisation`` with its first revision. The origin sector is the
    organisation's; relevant sectors never repeat it.

    The text is rendered before anything is written (it may be refused with
    ``RenderRefused``), so no transaction holds a write lock while Markdown runs."""
    body_html = str(render_markdown(body))
    created_at = created_at or utcnow()
    entry = Entry(
        slug=slug,
        kind=kind,
        title=title,
        summary=summary,
        organisation=organisation,
        origin_sector=organisation.sector,
        relevant_sectors=[s for s in relevant_sectors if s.id != organisation.sector_id],
        channels=list(channels),
        topics=list(topics),
        licence=licence,
        evidence_stage=evidence_stage,
        outcome=outcome,
        review_by=review_by,
        status=status,
        created_at=created_at,
        updated_at=updated_at or created_at,
        published_at=created_at if status in PUBLIC_STATUSES else None,
        current_revision_number=1,
    )
    session.add(entry)
    session.flush()
    write_revision(
        session, entry, number=1, title=title, summary=summary, body=body,
        body_html=body_html, author=author, created_at=updated_at or created_at,
        edit_summary=edit_summary,
    )  # fmt: skip
    return entry


def write_revision(
    session: Session,
    entry: Entry,
    *,
    number: int,
    title: str,
    summary: str,
    body: str,
    body_html: str,
    author: User | None,
    created_at: datetime,
    edit_summary: str,
) -> Revision:
    """Append revision ``number`` of ``entry``, recording its details as they now stand. The
    one place revisions are written: creating an entry and saving an edit both come here."""
    revision = Revision(
        entry_id=entry.id,
        number=number,
        title=title,
        summary=summary,
        body=body,
        body_html=body_html,
        author=author,
        created_at=created_at,
        edit_summary=edit_summary,
        details=entry_details(entry),
    )
    session.add(revision)
    session.flush()
    session.expire(entry, ["current_revision", "revisions"])
    return revision
