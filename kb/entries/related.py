""" "Related across sectors": worked out once per change of an entry, not on every view.

The list comes from the search index (``kb.search.similar.related_ids``) and is kept in
``related_entries`` with the change-log id the index had applied when it was worked out. It is
worked out again when the change log shows the entry changed since, or once it is a day old
(other entries published meanwhile may be closer). Whether each related entry may still be
shown is decided when the page is read, so an entry unpublished since never appears.

Working a list out searches the whole index (tens of milliseconds in a large catalogue), so
with ``RELATED_IN_BACKGROUND`` a reader never waits for it: a stale list is shown while a
background thread of the process works out the new one, and a page whose list was never
worked out shows none (and is not cached, see ``kb.caching.pages.dont_store``) until it is.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import timedelta

from flask import Flask
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, selectinload

from kb.db import db, upsert, utcnow
from kb.models import Entry, RelatedEntries, SearchChange, Status
from kb.search import SearchIndex, SearchUnavailable, get_index
from kb.search.similar import related_ids

SHOWN = 5
KEPT = 8  # a few spare, for those unpublished since
REFRESH_AFTER = timedelta(days=1)
WAITING_AT_MOST = 200  # lists waiting to be worked out in a process; more are asked again later
# After each list, the thread rests this many times as long as the list took: a flood of
# first views (a large catalogue, a crawler) must not take the CPU from the readers.
REST = 2.0
log = logging.getLogger(__name__)


def related_entries(
    index: SearchIndex, session: Session, entry: Entry, refresher: Refresher | None = None
) -> tuple[list[Entry], bool]:
    """Up to ``SHOWN`` published entries like ``entry`` from other sectors, and whether the
    list was ever worked out. A missing or stale list is worked out here (stored, flushed, for
    the caller to commit), or by ``refresher`` in the background if one is given. Raises
    ``SearchUnavailable`` if it must be worked out here and the index cannot be read."""
    row, changed = session.execute(
        select(
            RelatedEntries,
            exists().where(
                SearchChange.entry_id == entry.id,
                SearchChange.id > RelatedEntries.computed_through,
            ),
        ).where(RelatedEntries.entry_id == entry.id)
    ).one_or_none() or (None, True)
    if row is not None and not changed and utcnow() - row.computed_at <= REFRESH_AFTER:
        return _published(session, _ids(row)), True
    if refresher is not None:
        refresher.ask(entry.id)
        return (_published(session, _ids(row)), True) if row is not None else ([], False)
    return _published(session, refresh(index, session, entry)), True


def refresh(index: SearchIndex, session: Session, entry: Entry) -> list[int]:
    """Work ``entry``'s list out from the index and store it (flushed); its ids."""
    ids, applied = related_ids(index, entry, limit=KEPT)
    values = {
        "entry_id": entry.id,
        "related_ids": ",".join(map(str, ids)),
        "computed_through": applied,
        "computed_at": utcnow(),
    }
    statement = upsert(session, RelatedEntries).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[RelatedEntries.entry_id],
            set_={key: statement.excluded[key] for key in values if key != "entry_id"},
        )
    )
    return ids


def _ids(row: RelatedEntries | None) -> list[int]:
    return [int(i) for i in row.related_ids.split(",") if i] if row is not None else []


def _published(session: Session, ids: list[int]) -> list[Entry]:
    if not ids:
        return []
    found = {
        entry.id: entry
        for entry in session.scalars(
            select(Entry)
            .where(Entry.id.in_(ids), Entry.status == Status.PUBLISHED.value)
            .options(selectinload(Entry.channels), selectinload(Entry.relevant_sectors))
        )
    }
    return [found[i] for i in ids if i in found][:SHOWN]


class Refresher:
    """One background thread per process that works out the lists readers found missing or
    stale, one at a time, each in its own transaction, resting between them. Asking twice for
    one entry queues it once; a full queue drops the request (the next reader asks again)."""

    def __init__(self, app: Flask):
        self.app = app
        self.waiting: queue.Queue[int] = queue.Queue(maxsize=WAITING_AT_MOST)
        self.asked: set[int] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ask(self, entry_id: int) -> None:
        with self._lock:
            if entry_id in self.asked:
                return
            try:
                self.waiting.put_nowait(entry_id)
            except queue.Full:
                return
            self.asked.add(entry_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="related", daemon=True)
                self._thread.start()

    def wait(self) -> None:
        """Until every list asked for so far has been worked out (for tests and commands)."""
        self.waiting.join()

    def _work(self) -> None:
        while True:
            with self._lock:
                if self.waiting.empty():
                    self._thread = None
                    return
                entry_id = self.waiting.get_nowait()
            started = time.monotonic()
            try:
                self._refresh(entry_id)
            except SearchUnavailable:
                pass  # the index is being built; a later reader asks again
            except Exception:  # a list is a nicety: log it, keep the thread for the others
                log.exception("Working out related entries failed for entry %s", entry_id)
            finally:
                with self._lock:
                    self.asked.discard(entry_id)
                self.waiting.task_done()
            time.sleep(REST * (time.monotonic() - started))

    def _refresh(self, entry_id: int) -> None:
        with self.app.app_context():
            session = db.session
            try:
                entry = session.get(Entry, entry_id)
                if entry is not None and entry.status == Status.PUBLISHED.value:
                    refresh(get_index(), session, entry)
                    session.commit()
            finally:
                session.rollback()


def refresher(app: Flask) -> Refresher | None:
    """This app's background refresher, or None if lists are worked out while readers wait."""
    if not app.config["RELATED_IN_BACKGROUND"]:
        return None
    return app.extensions.setdefault("kb.related", Refresher(app))
