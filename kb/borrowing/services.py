"""Borrowing, adopting, asking first, and keeping copies up to date. Explicit arguments; flush,
no commit. Views check permissions first; these functions check the licence rules again, so no
route can make a copy the source's licence does not allow."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.entries.content import Content
from kb.entries.editing import SaveResult, new_entry, save_edit
from kb.licences import LICENCES, copy_licences
from kb.models import (
    Adoption,
    Borrow,
    BorrowRequest,
    BorrowRequestStatus,
    Entry,
    Organisation,
    Status,
    User,
)


class BorrowRefused(Exception):
    """The licence or the state of things does not allow this; the message says why."""


def _request(session: Session, source: Entry, organisation: Organisation, status):
    return session.scalar(
        select(BorrowRequest).where(
            BorrowRequest.entry_id == source.id,
            BorrowRequest.organisation_id == organisation.id,
            BorrowRequest.status == status.value,
        )
    )


def granted_request(session: Session, source: Entry, organisation: Organisation):
    """The organisation's granted request to adapt ``source``, if there is one."""
    return _request(session, source, organisation, BorrowRequestStatus.GRANTED)


def pending_request(session: Session, source: Entry, organisation: Organisation):
    """The organisation's request to adapt ``source`` still waiting for an answer."""
    return _request(session, source, organisation, BorrowRequestStatus.PENDING)


def borrowing_content(source: Entry) -> Content:
    """What the borrow form starts from: the source's current revision and licence (which its
    copies must keep if it is ShareAlike or "ask first", and may keep otherwise)."""
    revision = source.current_revision
    assert revision is not None
    return Content(
        title=revision.title,
        summary=revision.summary,
        body=revision.body,
        relevant_sectors=tuple(s.slug for s in source.relevant_sectors),
        channels=tuple(c.slug for c in source.channels),
        topics=tuple(t.slug for t in source.topics),
        licence=source.licence,
    )


def borrow(
    session: Session,
    source: Entry,
    *,
    organisation: Organisation,
    author: User,
    content: Content,
    source_revision: int,
    note: str,
    status: str,
    now: datetime,
    edit_summary: str = "",
    open_to_any_member: bool = False,
) -> Entry:
    """A new entry of ``organisation`` adapted from revision ``source_revision`` of ``source``.

    Raises ``BorrowRefused`` when the source is not published, the licence does not allow
    adapting (or was asked first and not granted), or the copy's licence breaks the source's
    terms. ``source_revision`` is the revision the form was filled from, so a source edited
    meanwhile shows up as an upstream change rather than being silently skipped.
    """
    if source.status != Status.PUBLISHED.value:
        raise BorrowRefused("Only published entries can be borrowed.")
    if organisation.id == source.organisation_id:
        raise BorrowRefused("This entry is already your organisation's: edit it instead.")
    terms = LICENCES[source.licence]
    if not terms.adaptable and granted_request(session, source, organisation) is None:
        raise BorrowRefused(f"{source.organisation.name} asks to be asked first.")
    if content.licence not in copy_licences(source.licence):
        raise BorrowRefused(
            f"A copy of this entry must carry the {LICENCES[source.licence].name} licence."
        )
    if not 1 <= source_revision <= source.current_revision_number:
        raise BorrowRefused("That revision of the original does not exist.")
    if not note.strip():
        raise BorrowRefused("Say what you changed and why.")
    # The history says where the text came from, then what the person typed (or their note).
    said = edit_summary.strip() or note.strip()
    summary = f"Borrowed from “{source.title}” by {source.organisation.name}: {said}"
    copy = new_entry(
        session,
        organisation=organisation,
        author=author,
        kind=source.kind,
        content=content,
        status=status,
        open_to_any_member=open_to_any_member,
        edit_summary=summary[:300],
        now=now,
    )
    record_borrow(
        session, copy, source, source_revision=source_revision, note=note, author=author, now=now
    )
    return copy


def record_borrow(
    session: Session,
    copy: Entry,
    source: Entry,
    *,
    source_revision: int,
    note: str,
    author: User | None,
    now: datetime,
) -> Borrow:
    """Record that ``copy`` was adapted from revision ``source_revision`` of ``source``, under
    the source's licence. The one writer of borrows: ``borrow`` checks the licence rules
    before calling it, and the sample catalogue is checked as it is read."""
    row = Borrow(
        entry_id=copy.id,
        source_id=source.id,
        source_revision=source_revision,
        borrowed_revision=source_revision,
        licence=source.licence,
        note=note.strip(),
        created_by=author,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def adopt(
    session: Session, entry: Entry, *, organisation: Organisation, user: User, note: str, now
) -> Adoption:
    """Record that ``organisation`` uses ``entry`` as it is. Adopting twice changes nothing."""
    if entry.status != Status.PUBLISHED.value:
        raise BorrowRefused("Only published entries can be adopted.")
    if organisation.id == entry.organisation_id:
        raise BorrowRefused("This entry is already your organisation's.")
    existing = adoption_by(session, entry, organisation)
    if existing is not None:
        return existing
    adoption = Adoption(
        organisation=organisation,
        entry_id=entry.id,
        revision=entry.current_revision_number,
        note=note.strip(),
        created_by=user,
        created_at=now,
    )
    session.add(adoption)
    session.flush()
    return adoption


def adoption_by(session: Session, entry: Entry, organisation: Organisation) -> Adoption | None:
    return session.scalar(
        select(Adoption).where(
            Adoption.entry_id == entry.id, Adoption.organisation_id == organisation.id
        )
    )


def withdraw_adoption(session: Session, adoption: Adoption) -> None:
    """The organisation no longer uses the entry as it is."""
    session.delete(adoption)
    session.flush()


def ask_to_borrow(
    session: Session, entry: Entry, *, organisation: Organisation, user: User, message: str, now
) -> BorrowRequest:
    """Ask the owners of an "ask first" entry for permission to adapt it. One pending request
    per organisation: asking again updates its message."""
    if LICENCES[entry.licence].adaptable:
        raise BorrowRefused("This entry may be adapted without asking.")
    if granted_request(session, entry, organisation) is not None:
        raise BorrowRefused("Your organisation already has permission to adapt this entry.")
    request = pending_request(session, entry, organisation)
    if request is None:
        request = BorrowRequest(
            entry_id=entry.id, organisation=organisation, requested_by=user, created_at=now
        )
        session.add(request)
    request.message = message.strip()
    session.flush()
    return request


def decide_request(
    session: Session, request: BorrowRequest, *, user: User, grant: bool, now: datetime
) -> None:
    """Grant or decline a pending request."""
    if not request.is_pending:
        raise BorrowRefused("This request has already been answered.")
    request.status = (BorrowRequestStatus.GRANTED if grant else BorrowRequestStatus.DECLINED).value
    request.decided_by = user
    request.decided_at = now
    session.flush()


def dismiss_update(session: Session, borrow_row: Borrow) -> None:
    """Hide "the original has changed" until the original changes again."""
    borrow_row.dismissed_revision = borrow_row.source.current_revision_number
    session.flush()


def merge_update(
    session: Session,
    copy: Entry,
    borrow_row: Borrow,
    *,
    author: User,
    content: Content,
    base: int | None,
    upstream_revision: int,
    edit_summary: str,
    now: datetime,
) -> SaveResult:
    """Save the reviewed merge as an ordinary edit of the copy (raising ``EditConflict`` if the
    copy moved on, for instance because a colleague merged first), then record
    ``upstream_revision`` as the copy's new base."""
    if not 1 <= upstream_revision <= borrow_row.source.current_revision_number:
        raise BorrowRefused("That revision of the original does not exist.")
    allowed = copy_licences(borrow_row.licence)
    if content.licence not in allowed:
        raise BorrowRefused(f"This copy must carry the {LICENCES[allowed[0]].name} licence.")
    result = save_edit(
        session,
        copy,
        author=author,
        content=content,
        base=base,
        edit_summary=edit_summary
        or f"Merged changes from the original, up to its revision {upstream_revision}",
        now=now,
    )
    # Someone may have merged a later revision meanwhile (without changing the text); the
    # base never moves back.
    borrow_row.source_revision = max(borrow_row.source_revision, upstream_revision)
    borrow_row.dismissed_revision = None
    session.flush()
    return result
