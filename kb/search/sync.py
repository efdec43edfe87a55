"""Following the change log: applying it to an index folder, and the registry of replicas.

Log ids become visible in commit order (``changes.py``), so a folder's state is one number:
the highest id applied. Applying re-reads each changed entry from the database and writes it
to the index that should hold it, removing it from any other. Each entry is written at most
once per writer (Whoosh cannot replace a document that is not yet committed), an entry whose
document did not change is not written at all, and a pass with nothing to write opens no
writer, so reading the log never changes an index's generation.
"""

from __future__ import annotations

from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from whoosh import index as whoosh_index
from whoosh.index import LockError

from kb.db import utcnow
from kb.models import SearchChange, SearchLogHorizon, SearchReplica
from kb.search import integrity, merge_process, segments
from kb.search.documents import load_documents
from kb.search.folders import (
    APPLY_LOCK,
    PUBLIC,
    STATE_FILE,
    file_lock,
    has_index,
    read_state,
    write_json,
)
from kb.search.readers import Readers
from kb.search.schema import SCHEMA_VERSION, build_schema

CHANGES_PER_PASS = 2000
# During a burst of saves the merge waits for a quiet moment, unless there are more than this.
MERGE_NOW_ABOVE = 24


def applied_mark(folder: Path | None) -> int:
    applied = read_state(folder).get("applied", 0)
    return applied if isinstance(applied, int) else 0


def write_mark(folder: Path, applied: int) -> None:
    write_json(folder / STATE_FILE, {"applied": applied, "schema": SCHEMA_VERSION})


def latest_change(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.max(SearchChange.id))) or 0


def pruned_through(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(SearchLogHorizon.pruned_through)) or 0


class _Writers:
    """The writers of one pass, opened only for indexes that really change."""

    def __init__(self, folder: Path, timeout: float, readers: Readers | None):
        self.folder = folder
        self.timeout = timeout
        self.open: dict[str, object] = {}
        self._readers: dict[str, object] = {}
        self._pool = readers
        self._borrowed = ExitStack()

    def reader(self, place: str):
        """The committed state of ``place`` (None if that index does not exist yet). The
        public index is read with a searcher from the process's pool, already open."""
        if place not in self._readers:
            path = self.folder / place
            found = None
            if place == PUBLIC and self._pool is not None and has_index(path):
                snapshot = self._borrowed.enter_context(self._pool.reading(self.folder))
                found = snapshot.searcher.reader()
            elif has_index(path):
                found = self._borrowed.enter_context(whoosh_index.open_dir(str(path)).reader())
            self._readers[place] = found
        return self._readers[place]

    def writer(self, place: str):
        if place not in self.open:
            path = self.folder / place
            if not has_index(path):
                path.mkdir(parents=True, exist_ok=True)
                whoosh_index.create_in(str(path), build_schema())
            self.open[place] = whoosh_index.open_dir(str(path)).writer(
                timeout=self.timeout, compound=False
            )
        return self.open[place]

    def holds(self, place: str, entry_id: int) -> int | None:
        """The live document number of ``entry_id`` in ``place``, if it is there."""
        return next(iter(self._live(place, entry_id)), None)

    def _live(self, place: str, entry_id: int) -> list[int]:
        reader = self.reader(place)
        if reader is None or ("id", str(entry_id)) not in reader:
            return []
        numbers = reader.postings("id", str(entry_id)).all_ids()
        return [docnum for docnum in numbers if not reader.is_deleted(docnum)]

    def remove(self, place: str, entry_id: int) -> None:
        """Delete the documents of ``entry_id`` from ``place``."""
        writer = self.writer(place)
        if self._numbered_alike(place, writer):
            for docnum in self._live(place, entry_id):
                writer.delete_document(docnum)
        else:
            writer.delete_by_term("id", str(entry_id))

    def put(self, place: str, entry_id: int, fields: dict) -> None:
        """Write ``fields`` as the one document of ``entry_id`` in ``place``."""
        writer = self.writer(place)
        if self._numbered_alike(place, writer):
            self.remove(place, entry_id)
            writer.add_document(**fields)
        else:
            writer.update_document(**fields)

    def _numbered_alike(self, place: str, writer) -> bool:
        """Whether the reader of ``place`` read the table of contents its writer writes after,
        so their document numbers agree: then a document is deleted by number, instead of
        Whoosh opening every segment again to look its id up (most of a save's reading)."""
        reader = self.reader(place)
        return reader is not None and reader.generation() == writer.generation - 1

    def commit(self) -> None:
        # Drafts first: an entry being published leaves its drafts index before it reaches
        # the public one, so its organisation never sees it twice, only briefly not at all.
        for place in sorted(self.open, key=lambda p: p == PUBLIC):
            writer = self.open.pop(place)
            # A drafts index holds a few entries: merging its small segments costs nothing.
            writer.commit(merge=place != PUBLIC)

    def close(self) -> None:
        for writer in self.open.values():
            writer.cancel()
        self.open.clear()
        self._readers.clear()
        self._borrowed.close()


def apply(
    folder: Path, engine: Engine, timeout: float, readers: Readers | None = None
) -> int | None:
    """Apply every change above the folder's mark. The caller holds the folder's apply lock.
    Returns how many entries were written or removed, or None if something outside Span held
    Whoosh's own writer lock for longer than ``timeout``. ``readers``, the process's searcher
    pool, saves opening the public index just to compare documents."""
    touched = 0
    applied = applied_mark(folder)
    while True:
        with engine.connect() as connection:
            rows = connection.execute(
                select(SearchChange.id, SearchChange.entry_id)
                .where(SearchChange.id > applied)
                .order_by(SearchChange.id)
                .limit(CHANGES_PER_PASS)
            ).all()
            if not rows:
                return touched
            ids = sorted({row.entry_id for row in rows})
            documents = load_documents(connection, ids)
        writers = _Writers(folder, timeout, readers)
        try:
            touched += _write(writers, ids, documents)
            changed = list(writers.open)
            writers.commit()
        except LockError:
            return touched or None
        finally:
            writers.close()
        applied = max(row.id for row in rows)
        if changed:
            integrity.record(folder, changed)
        write_mark(folder, applied)


def _write(writers: _Writers, ids: list[int], documents: dict) -> int:
    """Write each entry to the index that should hold it and remove it from the others it may
    be in: the public index and its organisation's drafts (every index, if it is gone)."""
    touched = 0
    for entry_id in ids:
        document = documents.get(entry_id)
        target = document.place if document else None
        if document is None:
            candidates = integrity.index_dirs(writers.folder)
        else:
            candidates = [PUBLIC, document.drafts_place]
        for place in candidates:
            if place != target and writers.holds(place, entry_id) is not None:
                writers.remove(place, entry_id)
                touched += 1
        if document is None:
            continue
        docnum = writers.holds(target, entry_id)
        if docnum is not None:
            stored = writers.reader(target).stored_fields(docnum)
            if stored.get("fingerprint") == document.fields["fingerprint"]:
                continue  # nothing the index holds about it changed
        writers.put(target, entry_id, document.fields)
        touched += 1
    return touched


def segment_count(folder: Path) -> int:
    """How many segments the public index in ``folder`` has now. Only a heuristic reads this
    (whether to merge), so an index that is gone (rebuilt meanwhile) has none rather than
    failing the request that asked."""
    toc = segments.read_toc(folder / PUBLIC)
    return 0 if toc is None else len(toc.segments)


def merge_small(
    folder: Path, timeout: float, swap_wait: float | None = None, *, own_process: bool = False
) -> bool:
    """One merge of the public index's smallest segments, if it has more than
    ``segments.MERGE_ABOVE_SEGMENTS``. The merged segment is built without the apply lock
    (with ``own_process``, in a process of its own: ``merge_process.py``); with ``swap_wait``,
    the lock is then taken (waiting that many seconds at most) to swap it in, as the
    background merge does; without, the caller holds it. Returns whether it merged."""
    index_dir = folder / PUBLIC
    plan = segments.plan(index_dir)
    if plan is None:
        return False
    built = (merge_process.build if own_process else segments.build)(index_dir, plan)
    locked = nullcontext(True) if swap_wait is None else file_lock(folder / APPLY_LOCK, swap_wait)
    with locked as held:
        if not held:
            segments.discard(built)
            return False
        merged = segments.swap(index_dir, built, timeout)
        if merged:
            integrity.record(folder, [PUBLIC])
    return merged


def merge_all(folder: Path) -> None:
    """Merge each index in ``folder`` into one segment. The caller holds the apply lock."""
    for place in integrity.index_dirs(folder):
        index = whoosh_index.open_dir(str(folder / place))
        index.writer(timeout=30, compound=False).commit(optimize=True)
    integrity.record(folder)


# -- the registry of replicas -------------------------------------------------------------------


@dataclass(frozen=True)
class Replica:
    name: str
    location: str
    applied: int
    seen_at: datetime


def register(engine: Engine, name: str, location: str, applied: int) -> None:
    """Record (or refresh) this replica and how far it has applied the log."""
    now = utcnow()
    with engine.begin() as connection:
        changed = connection.execute(
            update(SearchReplica)
            .where(SearchReplica.name == name)
            .values(location=location, applied=applied, seen_at=now)
        ).rowcount
    if changed:
        return
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(SearchReplica).values(
                    name=name, location=location, applied=applied, seen_at=now, registered_at=now
                )
            )
    except IntegrityError:
        register(engine, name, location, applied)  # another process registered it first


def replicas(engine: Engine) -> list[Replica]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                SearchReplica.name,
                SearchReplica.location,
                SearchReplica.applied,
                SearchReplica.seen_at,
            ).order_by(SearchReplica.registered_at)
        )
        return [Replica(*row) for row in rows]


@dataclass(frozen=True)
class Pruned:
    rows: int
    through: int
    ignored: list[Replica]  # replicas away too long to hold the log back


def prune(engine: Engine, own_applied: int, live_for: timedelta, keep_for: timedelta) -> Pruned:
    """Delete log rows every live replica has applied and that are older than ``keep_for``,
    never the newest row (it keeps the log's high-water mark). Replicas not seen for
    ``live_for`` are ignored: they rebuild when they return."""
    now = utcnow()
    known = replicas(engine)
    live = [r for r in known if r.seen_at >= now - live_for]
    floor = min([own_applied, *(r.applied for r in live)])
    with engine.begin() as connection:
        newest = connection.scalar(select(func.max(SearchChange.id))) or 0
        condition = (
            (SearchChange.id <= floor)
            & (SearchChange.id < newest)
            & (SearchChange.recorded_at < now - keep_for)
        )
        through = connection.scalar(select(func.max(SearchChange.id)).where(condition)) or 0
        if not through:
            return Pruned(0, 0, [r for r in known if r not in live])
        rows = connection.execute(
            SearchChange.__table__.delete().where(SearchChange.id <= through)
        ).rowcount
        # The horizon only moves forward, whoever else is pruning at the same time.
        connection.execute(
            update(SearchLogHorizon)
            .where(SearchLogHorizon.id == 1, SearchLogHorizon.pruned_through < through)
            .values(pruned_through=through)
        )
        if connection.scalar(select(SearchLogHorizon.id)) is None:
            connection.execute(insert(SearchLogHorizon).values(id=1, pruned_through=through))
    return Pruned(rows, through, [r for r in known if r not in live])
