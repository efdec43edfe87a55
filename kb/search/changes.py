"""Recording what the search index must re-read, in the same transaction as the change.

A listener on every SQLAlchemy session notices entries written through the ORM (new or changed
entries, new revisions, renamed organisations and vocabulary terms, and borrows and adoptions,
which change their source's reuse count) and adds ``SearchChange`` rows before the flush ends.
A change to a copy also re-reads its source, whose count depends on the copy's status. Writes
that bypass the ORM's unit of work (the conditional ``UPDATE`` in ``entries/editing.py``) call
``record_entry_change`` themselves.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import event, insert, inspect, literal, select
from sqlalchemy.orm import Session

from kb.db import utcnow
from kb.models import (
    Adoption,
    Borrow,
    Channel,
    Entry,
    Organisation,
    Revision,
    SearchChange,
    Sector,
    Topic,
    entry_channels,
    entry_sectors,
    entry_topics,
)

# Changes to these attributes alter what the index holds for the owner's entries.
_ORGANISATION_FIELDS = ("name", "slug")
_TERM_LINKS = {Sector: entry_sectors, Channel: entry_channels, Topic: entry_topics}


def record_entry_change(session: Session, entry_id: int) -> None:
    """Note that ``entry_id`` must be re-indexed once this transaction commits."""
    _record(session, [entry_id])


def _record(session: Session, entry_ids: Iterable[int]) -> None:
    ids = set(entry_ids)
    if ids:
        # A copy's status decides whether it counts as reuse of its source.
        ids |= set(
            session.connection().scalars(select(Borrow.source_id).where(Borrow.entry_id.in_(ids)))
        )
    ids = sorted(ids)
    if ids:
        now = utcnow()
        session.connection().execute(
            insert(SearchChange), [{"entry_id": i, "recorded_at": now} for i in ids]
        )
        session.info["search_changed"] = True


def _changed(obj, fields: Iterable[str]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in fields)


def _record_from_select(session: Session, statement) -> None:
    session.connection().execute(
        insert(SearchChange).from_select(["entry_id", "recorded_at"], statement)
    )
    session.info["search_changed"] = True


@event.listens_for(Session, "before_flush")
def _note_renames(session: Session, _context, _instances) -> None:
    # Attribute history is gone after the flush, so renames are noticed before it.
    renamed = session.info.setdefault("search_renamed", [])
    for obj in session.dirty:
        if isinstance(obj, Organisation) and _changed(obj, _ORGANISATION_FIELDS):
            renamed.append((Organisation, obj))
        elif type(obj) in _TERM_LINKS and _changed(obj, ("name", "slug")):
            renamed.append((type(obj), obj))


@event.listens_for(Session, "after_flush")
def _record_changes(session: Session, _context) -> None:
    entry_ids: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Entry) and obj.id is not None:
            entry_ids.add(obj.id)
        elif isinstance(obj, Revision) and obj.entry_id is not None:
            entry_ids.add(obj.entry_id)
        elif isinstance(obj, Borrow) and obj.source_id is not None:
            entry_ids.add(obj.source_id)
        elif isinstance(obj, Adoption) and obj.entry_id is not None:
            entry_ids.add(obj.entry_id)
    _record(session, entry_ids)
    now = literal(utcnow(), SearchChange.recorded_at.type)
    for model, obj in session.info.pop("search_renamed", []):
        if model is Organisation:
            owned = select(Entry.id, now).where(Entry.organisation_id == obj.id)
            _record_from_select(session, owned)
        else:
            link = _TERM_LINKS[model]
            tagged = select(link.c.entry_id, now).where(
                link.c[f"{model.__name__.lower()}_id"] == obj.id
            )
            _record_from_select(session, tagged)
            if model is Sector:
                _record_from_select(
                    session, select(Entry.id, now).where(Entry.origin_sector_id == obj.id)
                )
