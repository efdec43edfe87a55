"""The catalogue's version: it moves when a transaction changes what anonymous readers see.

Session listeners note, while a transaction runs, whether it changed anything public; just
before it commits, one ``UPDATE`` moves ``catalogue_state.version`` on in the same
transaction. So a committed change always moves the version, and a rolled-back one never does.

A change that only touches drafts (an entry that was and stays a draft, its revisions, a
draft copy) leaves the version alone: the validators anonymous readers see must not tell them
that somebody saved a draft. Everything else counts as public unless it is known to be private
(accounts' sessions, throttles, notifications, the search log): when in doubt, the version
moves, since a needless refresh costs a little time and a missed one shows a stale page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from flask import current_app, g, has_app_context, has_request_context, request
from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from kb.db import utcnow
from kb.models import (
    CATALOGUE_ROW,
    Borrow,
    BorrowRequest,
    CatalogueState,
    Entry,
    Follow,
    LoginThrottle,
    Notification,
    OrganisationRequest,
    OutboxMessage,
    RelatedEntries,
    ReviewReminder,
    Revision,
    SearchChange,
    SearchLogHorizon,
    SearchReplica,
    Status,
    User,
    UserSession,
)
from kb.search import changes as search_changes

_CHANGED = "catalogue_changed"
_CHECK_ENTRIES = "catalogue_check_entries"
PRIVATE = (
    BorrowRequest, CatalogueState, Follow, LoginThrottle, Notification, OrganisationRequest,
    OutboxMessage, RelatedEntries, ReviewReminder, SearchChange, SearchLogHorizon,
    SearchReplica, UserSession,
)  # fmt: skip
USER_FIELDS_SHOWN = ("display_name", "organisation_id")  # what public pages show of a person
DRAFT = Status.DRAFT.value
T = TypeVar("T")


def current(session: Session) -> tuple[int, datetime]:
    """The catalogue's version and when it last moved. Read on the session's connection:
    every anonymous page asks, and the ORM's handling of a statement doubles its cost."""
    row = (
        session.connection()
        .execute(
            select(CatalogueState.version, CatalogueState.changed_at).where(
                CatalogueState.id == CATALOGUE_ROW
            )
        )
        .one_or_none()
    )
    if row is None:  # a database older than the table: nothing can be cached safely
        return 0, utcnow()
    return row.version, row.changed_at


def current_version(session: Session) -> int:
    """The catalogue's version (0 if unknown): read once by a ``GET`` request, which changes
    nothing, else read afresh."""
    if not has_request_context() or request.method not in ("GET", "HEAD"):
        return current(session)[0]
    if (version := g.get("kb_catalogue_version")) is None:
        version = g.kb_catalogue_version = current(session)[0]
    return version


def kept(session: Session, name: str, compute: Callable[[], T]) -> T:
    """``compute()``, kept by this application in this process until the catalogue's version
    moves: for what is read on many pages and changes only with the catalogue."""
    version = current_version(session)
    if not version or not has_app_context():
        return compute()
    key = f"kb.kept.{name}"
    held = current_app.extensions.get(key)
    if held is not None and held[0] == version:
        return held[1]
    value = compute()
    # One assignment, so a thread reads an old pair or a new one, never half of each.
    current_app.extensions[key] = (version, value)
    return value


def mark_changed(session: Session) -> None:
    """Move the version when this transaction commits (for writes the listeners cannot see)."""
    session.info[_CHANGED] = True


def _status_history(entry: Entry) -> set[str | None]:
    history = inspect(entry).attrs.status.history
    return {*history.added, *history.deleted, *history.unchanged}


def _is_public_change(obj) -> bool:
    if isinstance(obj, PRIVATE):
        return False
    if isinstance(obj, Entry):
        return _status_history(obj) != {DRAFT}
    if isinstance(obj, Revision | Borrow):  # a borrow's entry is the copy, whose status
        entry = _entry_of(obj)  # decides whether it counts as reuse of its source
        return entry is None or _status_history(entry) != {DRAFT}
    if isinstance(obj, User):
        state = inspect(obj)
        if state.pending or state.deleted:
            return bool(obj.organisation_id)
        return any(state.attrs[name].history.has_changes() for name in USER_FIELDS_SHOWN)
    return True


def _entry_of(obj: Revision | Borrow) -> Entry | None:
    entry = obj.entry
    if entry is None and obj.entry_id is not None:  # a pending row knows only the id
        entry = inspect(obj).session.get(Entry, obj.entry_id)
    return entry


@event.listens_for(Session, "before_flush")
def _note_changes(session: Session, _context, _instances) -> None:
    if session.info.get(_CHANGED):
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if obj in session.dirty and not session.is_modified(obj):
            continue
        if _is_public_change(obj):
            session.info[_CHANGED] = True
            return


@event.listens_for(Session, "do_orm_execute")
def _note_statements(state: ORMExecuteState) -> None:
    # Writes behind the unit of work's back (the editor's conditional UPDATE): public unless
    # every entry they touch was and stays a draft, which ``_before_commit`` checks.
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    mapper = state.bind_mapper
    if mapper is None or issubclass(mapper.class_, PRIVATE):
        return
    if mapper.class_ is Entry and state.is_update:
        values = getattr(state.statement, "_values", None) or {}
        if not any(getattr(key, "key", key) == "status" for key in values):
            state.session.info[_CHECK_ENTRIES] = True
            return
    state.session.info[_CHANGED] = True


def _entries_left_public(session: Session) -> bool:
    """Whether any entry this transaction changed is not a draft (an UPDATE that did not
    set the status leaves it as it was)."""
    ids = sorted(search_changes.changed_entries(session))
    if not ids or len(ids) > 500:
        return bool(ids)
    statuses = session.scalars(select(Entry.status).where(Entry.id.in_(ids)))
    return any(status != DRAFT for status in statuses)


def _decide(session: Session) -> None:
    # Before the search log's hook, which forgets which entries changed as it writes them.
    if session.in_nested_transaction() or not session.info.pop(_CHECK_ENTRIES, False):
        return
    session.flush()
    if not session.info.get(_CHANGED) and _entries_left_public(session):
        session.info[_CHANGED] = True


def _move_version(session: Session) -> None:
    # Last of all: the row is the last lock a transaction takes, so no two wait on each other.
    if session.in_nested_transaction() or not session.info.pop(_CHANGED, False):
        return
    session.execute(
        update(CatalogueState)
        .where(CatalogueState.id == CATALOGUE_ROW)
        .values(version=CatalogueState.version + 1, changed_at=utcnow())
        .execution_options(synchronize_session=False)
    )


event.listen(Session, "before_commit", _decide, insert=True)
event.listen(Session, "before_commit", _move_version)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        for key in (_CHANGED, _CHECK_ENTRIES):
            session.info.pop(key, None)
