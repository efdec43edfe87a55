"""The index on disk: catching up from the change log, rebuilding, checking, and one
long-lived searcher per process.

Layout under the index folder: ``current`` is a symbolic link to the live ``index-*`` folder.
A rebuild writes a new folder and swaps the link in one atomic rename, so searches keep being
answered throughout. Each index folder holds ``span-state.json``: the highest change-log id
applied to it, written after the Whoosh commit it describes (a crash in between means some
changes are applied twice, which is harmless: documents are always re-read from the database).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from whoosh import index as whoosh_index
from whoosh.index import LockError
from whoosh.searching import Searcher

from kb.db import utcnow
from kb.models import SearchChange
from kb.search.documents import all_entry_ids, iter_documents, load_documents
from kb.search.ranking import ReuseWeighting
from kb.search.schema import SCHEMA_VERSION, SORTABLE_FIELDS, TEXT_FIELDS, build_schema

STATE_FILE = "span-state.json"
CURRENT = "current"
# On PostgreSQL, ids can commit out of order; a gap in the log is only stepped over once it is
# this old (SQLite commits one writer at a time, so its log never has gaps).
GAP_GRACE = timedelta(seconds=60)
CHANGES_PER_PASS = 2000
MERGE_AFTER_SEGMENTS = 12
APPLY_LOCK = "SPAN_APPLY"


@dataclass
class Snapshot:
    """A searcher and what has been worked out from it; replaced when the index changes.

    A replaced snapshot is closed once the last request reading it lets go."""

    searcher: Searcher
    folder: Path
    segments: dict  # per-segment results, shared by successive snapshots of one index
    cache: dict = field(default_factory=dict)
    readers: int = 0
    retired: bool = False

    def close_if_unused(self) -> None:
        if self.retired and self.readers == 0 and not self.searcher.is_closed:
            self.searcher.close()


_open_indexes: weakref.WeakSet = weakref.WeakSet()


def close_all() -> None:
    """Close every searcher this process holds (at shutdown, and between tests)."""
    for index in list(_open_indexes):
        index.close()


class SearchIndex:
    """One deployment's index folder, as seen by one process."""

    def __init__(self, root: Path, engine: Engine, *, writer_timeout: float = 0.5):
        self.root = Path(root)
        self.engine = engine
        self.writer_timeout = writer_timeout
        self._lock = threading.RLock()
        self._index = None
        self._folder: Path | None = None
        self._snapshot: Snapshot | None = None
        self._segment_cache: dict = {}
        _open_indexes.add(self)

    # -- where the live index is --------------------------------------------------------------

    def live_folder(self) -> Path | None:
        link = self.root / CURRENT
        try:
            return (self.root / os.readlink(link)).resolve()
        except OSError:
            return None

    def exists(self) -> bool:
        folder = self.live_folder()
        return folder is not None and whoosh_index.exists_in(folder)

    def _open(self):
        """The live index, reopened if a rebuild swapped it; built if there is none yet, or
        if it was built for another schema version."""
        folder = self.live_folder()
        if (
            folder is None
            or not whoosh_index.exists_in(folder)
            or _read_state(folder).get("schema") != SCHEMA_VERSION
        ):
            self.rebuild()
            folder = self.live_folder()
        if folder != self._folder:
            self._index = whoosh_index.open_dir(str(folder))
            self._folder = folder
        return self._index

    # -- reading ------------------------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[Snapshot]:
        """The current searcher, refreshed only when the index changed on disk."""
        with self._lock:
            index = self._open()
            current = self._snapshot
            if (
                current is None
                or current.folder != self._folder
                or not current.searcher.up_to_date()
            ):
                # A fresh searcher rather than refresh(): other threads may still be reading
                # the old one, which is closed when the last of them lets go.
                if current is not None:
                    current.retired = True
                    current.close_if_unused()
                searcher = _opened(index)
                live = {r.segment().segment_id() for r, _offset in searcher.reader().leaf_readers()}
                for key in [k for k in self._segment_cache if k[0] not in live]:
                    del self._segment_cache[key]
                current = Snapshot(searcher, self._folder, self._segment_cache)
                self._snapshot = current
            current.readers += 1
        try:
            yield current
        finally:
            with self._lock:
                current.readers -= 1
                current.close_if_unused()

    def close(self) -> None:
        with self._lock:
            if self._snapshot is not None:
                self._snapshot.retired = True
                self._snapshot.close_if_unused()
                self._snapshot = None

    # -- the change log -----------------------------------------------------------------------

    def applied(self, folder: Path | None = None) -> int:
        """The highest change-log id applied to the index in ``folder`` (the live one)."""
        applied = _read_state(folder or self.live_folder()).get("applied", 0)
        return applied if isinstance(applied, int) else 0

    @staticmethod
    def _write_state(folder: Path, applied: int) -> None:
        temporary = folder / f"{STATE_FILE}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps({"applied": applied, "schema": SCHEMA_VERSION}))
        os.replace(temporary, folder / STATE_FILE)

    def pending(self) -> int:
        """How many change-log rows the live index has not applied yet."""
        with self.engine.connect() as connection:
            return (
                connection.scalar(select(func.count()).where(SearchChange.id > self.applied())) or 0
            )

    def _latest_change(self) -> int:
        with self.engine.connect() as connection:
            return connection.scalar(select(func.max(SearchChange.id))) or 0

    def catch_up(self, timeout: float | None = None) -> int | None:
        """Apply every pending change. Returns how many entries were re-read, or None if
        another process held the index for longer than ``timeout``; it applies them instead,
        because whoever applies checks the log again after letting go."""
        timeout = self.writer_timeout if timeout is None else timeout
        with self._lock:
            index = self._open()
            folder = self._folder
        touched = 0
        while self._latest_change() > self.applied(folder):
            with _held(index, timeout) as held:
                if not held:
                    return touched or None
                applied_before = self.applied(folder)  # again, now that the lock is ours
                applied_now = self._apply(index, folder, applied_before, timeout)
                if applied_now is None:
                    return touched or None
                touched += applied_now
            if self.applied(folder) == applied_before:
                break  # waiting for a gap in the log to fill; applied again later
        return touched

    def _apply(self, index, folder: Path, applied: int, timeout: float) -> int | None:
        """Re-read the entries of every change above ``applied`` and write the new mark;
        None if something outside Span held Whoosh's own lock for longer than ``timeout``."""
        try:
            writer = index.writer(timeout=timeout, compound=False)
        except LockError:
            return None
        touched = 0
        try:
            with self.engine.connect() as connection:
                while True:
                    rows = connection.execute(
                        select(SearchChange.id, SearchChange.entry_id, SearchChange.recorded_at)
                        .where(SearchChange.id > applied)
                        .order_by(SearchChange.id)
                        .limit(CHANGES_PER_PASS)
                    ).all()
                    if not rows:
                        break
                    ids = sorted({row.entry_id for row in rows})
                    documents = load_documents(connection, ids)
                    for entry_id in ids:
                        if entry_id in documents:
                            writer.update_document(**documents[entry_id])
                        else:
                            writer.delete_by_term("id", str(entry_id))
                    touched += len(ids)
                    new_applied = _watermark(applied, rows)
                    if new_applied == applied:
                        break
                    applied = new_applied
            # Small segments are merged only now and then: merging on every save would make
            # saves slow, and merging in another thread races with readers opening files.
            writer.commit(merge=len(index._segments()) >= MERGE_AFTER_SEGMENTS)
        except BaseException:
            writer.cancel()
            raise
        self._write_state(folder, applied)
        return touched

    # -- whole-index operations ---------------------------------------------------------------

    def rebuild(self, *, procs: int = 1, limitmb: int = 128) -> RebuildReport:
        """Build a new index from the database in a new folder, then swap it in atomically."""
        started = time.perf_counter()
        self.root.mkdir(parents=True, exist_ok=True)
        folder = self.root / f"index-{time.time_ns()}-{os.getpid()}"
        folder.mkdir()
        index = whoosh_index.create_in(str(folder), build_schema())
        # Read the log's high-water mark before the entries: anything committed later has a
        # higher id, so the catch-up after the swap re-reads it.
        applied = self._latest_change()
        options = {"limitmb": limitmb, "compound": False}
        if procs > 1:
            options |= {"procs": procs, "multisegment": True}
        writer = index.writer(**options)
        count = 0
        try:
            with self.engine.connect() as connection:
                for document in iter_documents(connection, all_entry_ids(connection)):
                    writer.add_document(**document)
                    count += 1
            writer.commit()
        except BaseException:
            writer.cancel()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._write_state(folder, applied)
        previous = self.live_folder()
        link = self.root / f"{CURRENT}.{os.getpid()}.tmp"
        link.unlink(missing_ok=True)
        link.symlink_to(folder.name)
        os.replace(link, self.root / CURRENT)
        self._remove_old_folders(keep={folder, previous})
        return RebuildReport(count, time.perf_counter() - started, folder)

    def _remove_old_folders(self, keep: set) -> None:
        # The previous folder stays: other processes may still be reading it.
        for candidate in self.root.glob("index-*"):
            if candidate.resolve() not in {k.resolve() for k in keep if k}:
                shutil.rmtree(candidate, ignore_errors=True)

    def optimize(self) -> int:
        """Merge the live index into one segment and prune change-log rows applied more than
        a day ago (never the newest row: it keeps the log's high-water mark for rebuilds)."""
        with self._lock:
            index = self._open()
        folder = self.live_folder()
        with _held(index, timeout=30) as held:
            if not held:
                raise LockError("the search index stayed busy for 30 seconds")
            self._apply(index, folder, self.applied(folder), timeout=30)  # pending first
            index.writer(timeout=30, compound=False).commit(optimize=True)
        self.catch_up()  # whatever was saved while the merge held the index
        applied = self.applied()
        cutoff = utcnow() - timedelta(days=1)
        with self.engine.begin() as connection:
            newest = connection.scalar(select(func.max(SearchChange.id))) or 0
            pruned = connection.execute(
                SearchChange.__table__.delete().where(
                    SearchChange.id <= applied,
                    SearchChange.id < newest,
                    SearchChange.recorded_at < cutoff,
                )
            ).rowcount
        return pruned


@dataclass(frozen=True)
class Drift:
    """How the index differs from the database (entry ids)."""

    missing: list[int]
    phantoms: list[int]
    stale: list[int]
    pending: int

    @property
    def clean(self) -> bool:
        return not (self.missing or self.phantoms or self.stale or self.pending)


def check(index: SearchIndex) -> Drift:
    """Compare every document with what the database says it should be now."""
    if not index.exists():
        with index.engine.connect() as connection:
            return Drift(all_entry_ids(connection), [], [], 0)
    folder = index.live_folder()
    searcher = whoosh_index.open_dir(str(folder)).searcher()
    try:
        indexed = {
            int(fields["id"]): fields.get("fingerprint") for fields in searcher.all_stored_fields()
        }
    finally:
        searcher.close()
    expected: dict[int, str] = {}
    with index.engine.connect() as connection:
        for document in iter_documents(connection, all_entry_ids(connection)):
            expected[int(document["id"])] = document["fingerprint"]
    return Drift(
        missing=sorted(set(expected) - set(indexed)),
        phantoms=sorted(set(indexed) - set(expected)),
        stale=sorted(i for i in set(expected) & set(indexed) if expected[i] != indexed[i]),
        pending=index.pending(),
    )


@dataclass(frozen=True)
class RebuildReport:
    documents: int
    seconds: float
    folder: Path


def _opened(index) -> Searcher:
    """A searcher with every file it reads later already open. Whoosh opens a segment's
    column files lazily; once a merge deletes them, a searcher that had not opened them yet
    fails. Open files stay readable after deletion, so open them now (and if a merge won the
    race, start again on the merged index)."""
    for attempt in range(3):
        searcher = index.searcher(weighting=ReuseWeighting())
        try:
            for leaf, _offset in searcher.reader().leaf_readers():
                if leaf.doc_count_all():
                    leaf.stored_fields(0)
                    for name in TEXT_FIELDS:
                        leaf.doc_field_length(0, name)
                for name in SORTABLE_FIELDS:
                    leaf.column_reader(name)
            return searcher
        except (OSError, TypeError):
            searcher.close()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@contextmanager
def _held(index, timeout: float) -> Iterator[bool]:
    """Hold the index's "apply" lock, waiting at most ``timeout``. It is taken before
    Whoosh's writer lock and kept until the applied mark is written, so marks never go back."""
    lock = index.storage.lock(APPLY_LOCK)
    deadline = time.monotonic() + timeout
    while not lock.acquire(blocking=False):
        if time.monotonic() >= deadline:
            yield False
            return
        time.sleep(0.02)
    try:
        yield True
    finally:
        lock.release()


def _read_state(folder: Path | None) -> dict:
    if folder is None:
        return {}
    try:
        state = json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _watermark(applied: int, rows) -> int:
    """The highest id up to which the log has no unexplained gaps."""
    settled = utcnow() - GAP_GRACE
    for row in rows:
        if row.id != applied + 1 and row.recorded_at > settled:
            break
        applied = row.id
    return applied
