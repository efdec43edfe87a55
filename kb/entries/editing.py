"""Writing entries: create, edit, revert, publish, archive. Explicit arguments; flush, no commit.

An edit names the revision it started from (its base). The entry row is updated with
``WHERE current_revision_number = base`` before anything else is written, so of any number of
saves made from the same base exactly one matches; the rest raise ``EditConflict`` and the
caller shows the conflict page with the person's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kb.db import savepoint
from kb.entries.content import Content, current_content, entry_details, revision_content
from kb.entries.services import create_entry
from kb.models import Channel, Entry, Organisation, Revision, Sector, Status, Topic, User
from kb.rendering import render_markdown
from kb.search.changes import record_entry_change
from kb.slugs import unique_slug


class EditConflict(Exception):
    """The entry moved on from the edit's base revision."""

    def __init__(self, entry: Entry, base: int | None):
        super().__init__(f"{entry.slug} is no longer at revision {base}")
        self.entry = entry
        self.base = base


@dataclass(frozen=True)
class SaveResult:
    revision: Revision | None  # None when the text and details were unchanged
    status_changed: bool = False

    @property
    def changed(self) -> bool:
        return self.revision is not None or self.status_changed


def _terms(session: Session, model, slugs: tuple[str, ...]) -> list:
    if not slugs:
        return []
    return list(session.scalars(select(model).where(model.slug.in_(slugs))))


def new_entry(
    session: Session,
    *,
    organisation: Organisation,
    author: User,
    kind: str,
    content: Content,
    status: str,
    open_to_any_member: bool,
    edit_summary: str,
    now: datetime,
) -> Entry:
    """A new entry with its first revision, under a slug made from its title.

    Two entries with the same title saved at the same moment both find the same free slug;
    the second to insert it gets the next one, inside a savepoint of the same transaction.
    """
    render_markdown(content.body)  # refused before any write (and kept for create_entry)
    # Everything is read before the first write (see save_edit on why that matters).
    fields = {
        "relevant_sectors": _terms(session, Sector, content.relevant_sectors),
        "channels": _terms(session, Channel, content.channels),
        "topics": _terms(session, Topic, content.topics),
    }
    slug = unique_slug(session, Entry, content.title)
    for attempt in range(SLUG_ATTEMPTS):
        try:
            with savepoint(session):
                entry = create_entry(
                    session, organisation=organisation, author=author, slug=slug, kind=kind,
                    title=content.title, summary=content.summary, body=content.body,
                    licence=content.licence, evidence_stage=content.evidence_stage,
                    outcome=content.outcome, review_by=content.review_by, status=status,
                    edit_summary=edit_summary or "Created", created_at=now, **fields,
                )  # fmt: skip
            break
        except IntegrityError as error:
            if not _slug_taken(error) or attempt == SLUG_ATTEMPTS - 1:
                raise
            # This transaction now holds the write lock, so it reads what the other committed.
            slug = unique_slug(session, Entry, content.title)
    entry.open_to_any_member = open_to_any_member
    session.flush()
    return entry


SLUG_ATTEMPTS = 20


def _slug_taken(error: IntegrityError) -> bool:
    message = str(error.orig)
    return "entries.slug" in message or "uq_entries_slug" in message


def save_edit(
    session: Session,
    entry: Entry,
    *,
    author: User,
    content: Content,
    base: int | None,
    edit_summary: str,
    now: datetime,
    status: str | None = None,
    open_to_any_member: bool | None = None,
) -> SaveResult:
    """Save ``content`` over revision ``base``; raises ``EditConflict`` if that is not current,
    and ``RenderRefused`` (before writing anything) if its text cannot be rendered.

    Unchanged content writes no revision; a status or "open to any member" change alone
    updates the entry without one.
    """
    if base is None or base != entry.current_revision_number:
        raise EditConflict(entry, base)
    text_changed = content != current_content(entry)
    status = status if status and status != entry.status else None
    if open_to_any_member == entry.open_to_any_member:
        open_to_any_member = None
    if not (text_changed or status or open_to_any_member is not None):
        return SaveResult(None)
    # Rendering is the slow part of a save: done before the first write, so the write lock
    # is held only for the writes themselves (and a refused text writes nothing).
    body_html = str(render_markdown(content.body)) if text_changed else ""

    values: dict = {"updated_at": now}
    if text_changed:
        values |= {
            "current_revision_number": base + 1,
            "title": content.title,
            "summary": content.summary,
            "licence": content.licence,
            "evidence_stage": content.evidence_stage,
            "outcome": content.outcome,
            "review_by": content.review_by,
        }
    if status:
        values["status"] = status
    if open_to_any_member is not None:
        values["open_to_any_member"] = open_to_any_member
    # The guard: first write of the transaction, conditional on the base still being current.
    won = session.execute(
        update(Entry)
        .where(Entry.id == entry.id, Entry.current_revision_number == base)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        raise EditConflict(entry, base)
    record_entry_change(session, entry.id)  # the UPDATE above bypassed the ORM's bookkeeping
    session.expire(entry)
    if not text_changed:
        return SaveResult(None, status_changed=bool(status))

    entry.relevant_sectors = [
        s
        for s in _terms(session, Sector, content.relevant_sectors)
        if s.id != entry.origin_sector_id
    ]
    entry.channels = _terms(session, Channel, content.channels)
    entry.topics = _terms(session, Topic, content.topics)
    session.flush()
    revision = Revision(
        entry_id=entry.id,
        number=base + 1,
        title=content.title,
        summary=content.summary,
        body=content.body,
        body_html=body_html,
        author=author,
        created_at=now,
        edit_summary=edit_summary,
        details=entry_details(entry),
    )
    session.add(revision)
    session.flush()
    session.expire(entry, ["current_revision", "revisions"])
    return SaveResult(revision, status_changed=bool(status))


def revert(
    session: Session, entry: Entry, *, author: User, revision: Revision, base: int, now: datetime
) -> SaveResult:
    """Make ``revision``'s text and details current again, as a new revision."""
    content = revision_content(revision, entry_details(entry))
    return save_edit(
        session,
        entry,
        author=author,
        content=content,
        base=base,
        edit_summary=f"Reverted to revision {revision.number}",
        now=now,
    )


def set_status(session: Session, entry: Entry, status: Status, now: datetime) -> None:
    """Publish, archive or restore. Archiving is how entries are removed: nothing is deleted."""
    entry.status = status.value
    if status == Status.PUBLISHED:
        entry.updated_at = now
    session.flush()
