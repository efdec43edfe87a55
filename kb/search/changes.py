"""Recording what the search index must re-read, in the same transaction as the change.

Listeners on every SQLAlchemy session notice entries written through the ORM (new or changed
entries, new revisions, renamed organisations and vocabulary terms, and borrows and adoptions,
which change their source's reuse count). Writes that bypass the ORM's unit of work (the
conditional ``UPDATE`` in ``entries/editing.py``) call ``record_entry_change`` themselves.

The ids are collected while the transaction runs and written to ``search_changes`` only as it
commits, under a lock held until the commit ends (SQLite's single writer; a transaction-level
advisory lock on PostgreSQL). So log ids become visible in order: once the index sees id n,
every lower id is settled, and a gap left by a rollback can never be filled later.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import event, insert, inspect, select, text
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
_PENDING = "search_pending"
# Any constant will do: it only has to be the same for every writer of the log.
LOG_LOCK_KEY = 0x5350414E


def record_entry_change(session: Session, entry_id: int) -> None:
    """Note that ``entry_id`` must be re-indexed once this transaction commits."""
    _pending(session).add(entry_id)


def changed_entries(session: Session) -> frozenset[int]:
    """The entries this transaction has changed so far (for others that react to changes,
    such as notifications, before the transaction commits)."""
    return frozenset(session.info.get(_PENDING, ()))


def _pending(session: Session) -> set[int]:
    return session.info.setdefault(_PENDING, set())


def _changed(obj, fields: Iterable[str]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in fields)


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
def _collect_changes(session: Session, _context) -> None:
    pending = _pending(session)
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Entry) and obj.id is not None:
            pending.add(obj.id)
        elif isinstance(obj, Revision) and obj.entry_id is not None:
            pending.add(obj.entry_id)
        elif isinstance(obj, Borrow) and obj.source_id is not None:
            pending.add(obj.source_id)
        elif isinstance(obj, Adoption) and obj.entry_id is not None:
            pending.add(obj.entry_id)
    connection = session.connection()
    for model, obj in session.info.pop("search_renamed", []):
        if model is Organisation:
            pending.update(
                connection.scalars(select(Entry.id).where(Entry.organisation_id == obj.id))
            )
            continue
        link = _TERM_LINKS[model]
        column = link.c[f"{model.__name__.lower()}_id"]
        pending.update(connection.scalars(select(link.c.entry_id).where(column == obj.id)))
        if model is Sector:
            pending.update(
                connection.scalars(select(Entry.id).where(Entry.origin_sector_id == obj.id))
            )


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint's ids wait for the real commit
        write_log(session)


def write_log(session: Session) -> None:
    """Write the ids collected so far as log rows, taking the log's lock until the transaction
    ends. Runs as the transaction's last write, just before it commits."""
    session.flush()  # anything not flushed yet is collected now
    ids = session.info.pop(_PENDING, set())
    if not ids:
        return
    connection = session.connection()
    # A copy's status decides whether it counts as reuse of its source.
    for chunk in _chunks(sorted(ids)):
        ids.update(connection.scalars(select(Borrow.source_id).where(Borrow.entry_id.in_(chunk))))
    if connection.dialect.name == "postgresql":
        # Held until this transaction ends, so log ids commit in the order they are taken.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOG_LOCK_KEY})
    now = utcnow()
    connection.execute(
        insert(SearchChange), [{"entry_id": i, "recorded_at": now} for i in sorted(ids)]
    )
    session.info["search_changed"] = True


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    # Whatever a rolled-back (or closed) transaction collected is not a change.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop("search_renamed", None)


def _chunks(ids: list[int], size: int = 500):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
