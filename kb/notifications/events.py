"""Noticing, in the unit of work, what happened that people should be told about.

Session listeners collect facts while a transaction runs (new revisions, adoptions, requests
to borrow and their decisions, people asking to join and being approved); just before the
transaction commits, ``fanout.notify`` turns them into notifications and outbox rows in the
same transaction. So a rolled-back change tells nobody, and a committed one is never lost.

Whether an entry was just published compares its status now with its status before the
transaction first changed it: from the ORM's attribute history, or, for an UPDATE sent behind
the ORM's back (the conditional save in ``entries/editing.py``), read under the write lock
just before it runs, on the same connection. No service has to remember to notify anyone, and
nothing here needs a second connection (which a busy pool might not have to give).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import current_app, has_app_context
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session

from kb.db import take_write_lock
from kb.models import Adoption, BorrowRequest, Entry, Revision, User
from kb.search.changes import changed_entries

_FACTS = "notification_facts"
_QUIET = "notifications_quiet"


@contextmanager
def quietly(session: Session) -> Iterator[None]:
    """Tell nobody about what ``session`` commits meanwhile: loading the sample catalogue,
    for one, is not news."""
    session.info[_QUIET] = True
    try:
        yield
    finally:
        session.info.pop(_QUIET, None)


@dataclass
class Facts:
    """What happened in one transaction, as far as notifications care."""

    revisions: dict[int, Revision] = field(default_factory=dict)  # entry id -> newest new one
    adoptions: list[Adoption] = field(default_factory=list)
    requests: list[BorrowRequest] = field(default_factory=list)
    decided: list[BorrowRequest] = field(default_factory=list)
    joined: list[User] = field(default_factory=list)
    approved: list[User] = field(default_factory=list)
    # entry id -> its status before this transaction changed it (None: created here)
    statuses_before: dict[int, str | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any((self.revisions, self.adoptions, self.requests, self.decided, self.joined,
                    self.approved))  # fmt: skip


def _facts(session: Session) -> Facts:
    return session.info.setdefault(_FACTS, Facts())


def _changed(obj, name: str) -> bool:
    return inspect(obj).attrs[name].history.has_changes()


@event.listens_for(Session, "before_flush")
def _note_decisions(session: Session, _context, _instances) -> None:
    # Attribute history is gone after the flush.
    facts = _facts(session)
    for obj in session.dirty:
        if isinstance(obj, BorrowRequest) and _changed(obj, "status") and not obj.is_pending:
            facts.decided.append(obj)
        elif isinstance(obj, Entry) and _changed(obj, "status"):
            deleted = inspect(obj).attrs.status.history.deleted
            if deleted:
                facts.statuses_before.setdefault(obj.id, deleted[0])
        elif isinstance(obj, User):
            history = inspect(obj).attrs.approved_at.history
            if history.added and history.added[0] and not any(history.deleted):
                facts.approved.append(obj)  # approved just now, not re-approved


@event.listens_for(Session, "after_flush")
def _note_new(session: Session, _context) -> None:
    facts = _facts(session)
    for obj in session.new:
        if isinstance(obj, Revision):
            newest = facts.revisions.get(obj.entry_id)
            if newest is None or obj.number > newest.number:
                facts.revisions[obj.entry_id] = obj
        elif isinstance(obj, Entry):
            facts.statuses_before.setdefault(obj.id, None)
        elif isinstance(obj, Adoption):
            facts.adoptions.append(obj)
        elif isinstance(obj, BorrowRequest):
            facts.requests.append(obj)
        elif isinstance(obj, User) and obj.organisation_id and not obj.approved_at:
            facts.joined.append(obj)


@event.listens_for(Session, "do_orm_execute")
def _note_statuses(state: ORMExecuteState) -> None:
    mapper = state.bind_mapper
    if not (state.is_update and mapper is not None and mapper.class_ is Entry):
        return
    session = state.session
    take_write_lock(session)
    query = select(Entry.id, Entry.status).with_for_update()
    if state.statement.whereclause is not None:
        query = query.where(state.statement.whereclause)
    statuses_before = _facts(session).statuses_before
    for entry_id, status in session.execute(query):
        statuses_before.setdefault(entry_id, status)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    app = session.info.get("kb_app") or (current_app._get_current_object()
                                         if has_app_context() else None)  # fmt: skip
    if app is None or session.info.get(_QUIET):
        session.info.pop(_FACTS, None)
        return
    session.flush()
    facts = session.info.pop(_FACTS, Facts())
    entries = changed_entries(session) | set(facts.revisions)
    if not (facts or entries):
        return
    from kb.notifications.fanout import notify  # the fan-out needs the models' relationships

    if notify(app, session, facts, entries):
        session.info["outbox_written"] = True


# Before the search change log's own hook, whose rows must be the transaction's last write.
event.listen(Session, "before_commit", _before_commit, insert=True)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_FACTS, None)
