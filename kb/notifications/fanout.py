"""Who is told what: from what happened in one transaction to notification and outbox rows.

Runs inside the transaction, just before it commits (``events.py``). One change gives each
person one notification however many of their follows it matches; nobody is told about
something they may not see (``kb/permissions.py``); and the person who made a change is not
told about it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from sqlalchemy import and_, insert, or_, select
from sqlalchemy.orm import Session

from kb import permissions
from kb.db import utcnow
from kb.models import (
    Borrow,
    EmailFrequency,
    Entry,
    Event,
    Follow,
    FollowKind,
    Notification,
    Organisation,
    OutboxMessage,
    Role,
    Status,
    User,
    entry_channels,
    entry_sectors,
    entry_topics,
)
from kb.notifications.events import Facts
from kb.search.matching import matching_searches
from kb.search.query import Synonyms

CHUNK = 500


@dataclass
class Note:
    """One notification, for each of ``recipients``."""

    recipients: set[int]
    event: Event
    entry_id: int | None = None
    revision: int | None = None
    actor: str = ""
    detail: str = ""
    subject_user_id: int | None = None


def notify(app: Flask, session: Session, facts: Facts, entry_ids: set[int]) -> bool:
    """Write this transaction's notifications; True if any email was queued."""
    synonyms = app.extensions["kb.search.synonyms"]
    notes = [
        *_entry_notes(session, facts, entry_ids, synonyms),
        *_borrowing_notes(session, facts),
        *_membership_notes(session, facts),
    ]
    return write(app, session, [n for n in notes if n.recipients], utcnow())


# -- entries: published, revised, borrowed (a copy published), the original changed ---------


def _entry_notes(session, facts: Facts, entry_ids: set[int], synonyms) -> list[Note]:
    ids = sorted(entry_ids)
    if not ids:
        return []
    notes = []
    for chunk in _chunks(ids):
        for entry in session.scalars(select(Entry).where(Entry.id.in_(chunk))):
            if entry.status != Status.PUBLISHED.value:
                continue  # drafts are never announced; archiving is not news
            revision = facts.revisions.get(entry.id)
            before = facts.statuses_before.get(entry.id, entry.status)
            newly = before != Status.PUBLISHED.value
            if not newly and revision is None:
                continue  # nothing a reader would notice changed
            actor = revision.author_id if revision else None
            followers = _followers(session, entry, synonyms) - {actor}
            if newly:
                notes.append(Note(followers, Event.PUBLISHED, entry.id,
                                  revision.number if revision else entry.current_revision_number,
                                  entry.organisation.name))  # fmt: skip
                notes += _borrowed(session, entry)
            else:
                summary = revision.edit_summary
                notes.append(Note(followers, Event.REVISED, entry.id, revision.number,
                                  entry.organisation.name, summary))  # fmt: skip
                notes += _upstream(session, entry, revision.number, summary)
    return notes


def _followers(session: Session, entry: Entry, synonyms: Synonyms) -> set[int]:
    sectors = {entry.origin_sector_id, *session.scalars(
        select(entry_sectors.c.sector_id).where(entry_sectors.c.entry_id == entry.id))}  # fmt: skip
    channels = session.scalars(
        select(entry_channels.c.channel_id).where(entry_channels.c.entry_id == entry.id)
    ).all()
    topics = session.scalars(
        select(entry_topics.c.topic_id).where(entry_topics.c.entry_id == entry.id)
    ).all()

    def following(kind: FollowKind, targets) -> object:
        return and_(Follow.kind == kind.value, Follow.target_id.in_(list(targets)))

    users = set(session.scalars(select(Follow.user_id).where(or_(
        following(FollowKind.ENTRY, [entry.id]),
        following(FollowKind.SECTOR, sectors),
        following(FollowKind.CHANNEL, channels),
        following(FollowKind.TOPIC, topics),
        following(FollowKind.ORGANISATION, [entry.organisation_id]),
    ))))  # fmt: skip
    searches = session.scalars(
        select(Follow.query).where(Follow.kind == FollowKind.SEARCH.value).distinct()
    ).all()
    matched = matching_searches(session, entry.id, searches, synonyms)
    for chunk in _chunks(sorted(matched)):
        users.update(session.scalars(select(Follow.user_id).where(
            Follow.kind == FollowKind.SEARCH.value, Follow.query.in_(chunk))))  # fmt: skip
    return users


def _borrowed(session: Session, copy: Entry) -> list[Note]:
    """A copy reaching the public tells the original's organisation it was borrowed (not
    before: a draft copy is its own organisation's business)."""
    borrow = session.scalar(select(Borrow).where(Borrow.entry_id == copy.id))
    if borrow is None:
        return []
    return [Note(members(session, borrow.source.organisation_id), Event.BORROWED, copy.id,
                 actor=copy.organisation.name)]  # fmt: skip


def _upstream(session: Session, original: Entry, revision: int, summary: str) -> list[Note]:
    """Each organisation with a copy of ``original`` hears that it changed."""
    copies = session.scalars(select(Entry).join(Borrow, Borrow.entry_id == Entry.id)
                             .where(Borrow.source_id == original.id)).all()  # fmt: skip
    return [
        Note(
            members(session, copy.organisation_id),
            Event.UPSTREAM,
            copy.id,
            revision,
            original.organisation.name,
            summary,
        )  # fmt: skip
        for copy in copies
    ]


# -- borrowing and membership ---------------------------------------------------------------


def _borrowing_notes(session: Session, facts: Facts) -> list[Note]:
    notes = []
    for adoption in facts.adoptions:
        source = session.get(Entry, adoption.entry_id)
        adopter = session.get(Organisation, adoption.organisation_id)
        notes.append(Note(members(session, source.organisation_id) - {adoption.created_by_id},
                          Event.ADOPTED, source.id, actor=adopter.name))  # fmt: skip
    for request in facts.requests:
        notes.append(Note(members(session, request.entry.organisation_id)
                          - {request.requested_by_id}, Event.ASKED, request.entry_id,
                          actor=request.organisation.name))  # fmt: skip
    for request in facts.decided:
        asked_by = {request.requested_by_id} if request.requested_by_id else set()
        event = Event.GRANTED if request.status == "granted" else Event.DECLINED
        notes.append(Note(asked_by or members(session, request.organisation_id, editors=True),
                          event, request.entry_id,
                          actor=request.entry.organisation.name))  # fmt: skip
    return notes


def _membership_notes(session: Session, facts: Facts) -> list[Note]:
    notes = []
    for person in facts.joined:
        editors = members(session, person.organisation_id, editors=True)
        notes.append(Note(editors, Event.JOIN_REQUESTED, actor=person.display_name,
                          subject_user_id=person.id))  # fmt: skip
    for person in facts.approved:
        organisation = person.organisation
        notes.append(Note({person.id}, Event.APPROVED, actor=organisation.name if organisation
                          else "Span"))  # fmt: skip
    return notes


def members(session: Session, organisation_id: int, *, editors: bool = False) -> set[int]:
    """Approved people of an organisation (its editors only, if ``editors``)."""
    statement = select(User.id).where(
        User.organisation_id == organisation_id, User.approved_at.is_not(None)
    )
    if editors:
        statement = statement.where(User.role == Role.EDITOR.value)
    return set(session.scalars(statement))


# -- writing ----------------------------------------------------------------------------------


def _visible(session: Session, note: Note) -> set[int]:
    """Those of the note's recipients who may see what it is about."""
    entry = session.get(Entry, note.entry_id) if note.entry_id else None
    if entry is None or entry.status in permissions.PUBLIC_STATUSES:
        return set(note.recipients)
    people = []
    for chunk in _chunks(sorted(note.recipients)):
        people += session.scalars(select(User).where(User.id.in_(chunk))).all()
    return {person.id for person in people if permissions.can_view(person, entry)}


def write(app: Flask, session: Session, notes: list[Note], now: datetime) -> bool:
    """Insert the notifications, and an outbox row for each that its person wants at once."""
    wanted = {i for note in notes for i in note.recipients}
    immediately: set[int] = set()
    at_once = User.email_frequency == EmailFrequency.IMMEDIATELY.value
    for chunk in _chunks(sorted(wanted)):
        immediately.update(session.scalars(select(User.id).where(User.id.in_(chunk), at_once)))
    rows = []
    for note in notes:
        for user_id in sorted(_visible(session, note)):
            rows.append({
                "user_id": user_id, "event": note.event.value, "entry_id": note.entry_id,
                "revision": note.revision, "actor": note.actor[:200], "detail": note.detail,
                "subject_user_id": note.subject_user_id, "created_at": now,
                "emailed_at": now if user_id in immediately else None,
            })  # fmt: skip
    if not rows:
        return False
    # Core inserts, many rows a statement: thousands of followers cost a fraction of a second.
    connection = session.connection()
    table = Notification.__table__
    written = connection.execute(insert(table).returning(table.c.id, table.c.user_id), rows).all()
    domain = app.config["MAIL_FROM"].rpartition("@")[2].strip("> ") or "span.invalid"
    emails = [
        {
            "user_id": user_id,
            "message_id": f"<{uuid.uuid4().hex}@{domain}>",
            "notification_ids": json.dumps([notification_id]),
            "digest": "",
            "created_at": now,
            "next_attempt_at": now,
        }  # fmt: skip
        for notification_id, user_id in written
        if user_id in immediately
    ]
    if emails:
        connection.execute(insert(OutboxMessage.__table__), emails)
    return bool(emails)


def _chunks(ids: list[int], size: int = CHUNK):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
