"""A replica's index as one process sees it: reading, catching up, rebuilding and repairing.

Nobody waits on the index and no request fails because of it:

- reading takes a searcher of its own (``readers.py``), after checking the files it will read
  (``integrity.py``);
- catching up applies the change log under the folder's apply lock, waiting at most a moment
  for it (``sync.py``);
- an index that is missing, built for another schema, damaged, or behind the pruned log is
  rebuilt in a background thread (one per replica, whichever process gets there first) and
  swapped in atomically; meanwhile searches raise ``SearchUnavailable``, which the pages turn
  into "search is catching up" (only a replica that is merely behind keeps serving).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, func, select
from whoosh.index import LockError

from kb.models import SearchChange
from kb.search import segments, sync
from kb.search.build import POOL_MB_AT_MOST, RebuildReport, build
from kb.search.folders import (
    APPLY_LOCK,
    MERGE_LOCK,
    REBUILD_LOCK,
    file_lock,
    has_index,
    live_folder,
    public_dir,
    read_state,
    replica_identity,
)
from kb.search.integrity import IndexDamaged, raised_by_index
from kb.search.merges import BackgroundMerges
from kb.search.readers import Readers, Snapshot
from kb.search.schema import SCHEMA_VERSION

log = logging.getLogger(__name__)
T = TypeVar("T")
REGISTER_EVERY = 30.0  # seconds between refreshes of this replica's row in the registry
REPAIR_RETRY = 5.0  # seconds before a failed repair is tried again
OPTIMIZE_WAITS_FOR_MERGE = 60.0  # seconds ``kb optimize`` waits for a background merge
OPTIMIZE_WAITS_FOR_SAVES = 30.0  # and then for saves to let go of the index


class SearchUnavailable(Exception):
    """The index cannot answer just now (being built, rebuilt or repaired)."""


_open_indexes: weakref.WeakSet = weakref.WeakSet()


def close_all(wait: float = 30) -> None:
    """Close every searcher this process holds and wait for repairs in progress (at shutdown,
    and between tests)."""
    for index in list(_open_indexes):
        index.close(wait)


class SearchIndex(BackgroundMerges):
    """One replica's index folder, as seen by one process."""

    def __init__(
        self,
        root: Path,
        engine: Engine,
        *,
        writer_timeout: float = 0.5,
        repair_in_background: bool = True,
        replica_ttl: timedelta = timedelta(days=7),
    ):
        self.root = Path(root)
        self.engine = engine
        self.writer_timeout = writer_timeout
        self.repair_in_background = repair_in_background
        self.replica_ttl = replica_ttl
        self.readers = Readers()
        self._lock = threading.Lock()
        self._damaged: dict[Path, str] = {}
        self._usable: set[Path] = set()
        self._repairing: threading.Thread | None = None
        self._repair_tried = 0.0
        self._registered = 0.0
        self._registering: threading.Thread | None = None
        self._merging: threading.Thread | None = None
        self._closing = threading.Event()
        self.merge_in_background = True  # after a save adds segments; tests may merge instead
        _open_indexes.add(self)

    # -- where the live index is, and whether it can be read ------------------------------------

    def live_folder(self) -> Path | None:
        return live_folder(self.root)

    def exists(self) -> bool:
        folder = self.live_folder()
        return folder is not None and has_index(public_dir(folder))

    def problem(self) -> str | None:
        """Why the live index cannot answer searches now, or None. Starts nothing and reads no
        index file (for health checks, which must stay cheap)."""
        folder = self.live_folder()
        if self._repairing is not None and self._repairing.is_alive():
            return "the search index is being rebuilt"
        if folder is None or not has_index(public_dir(folder)):
            return "there is no search index yet"
        if read_state(folder).get("schema") != SCHEMA_VERSION:
            return "the search index was built by another version of Span"
        if folder in self._damaged:
            return f"the search index is damaged ({self._damaged[folder]})"
        return None

    def _readable(self) -> Path:
        """The live folder, if it can be read; else start a repair and say so."""
        folder = self.live_folder()
        if folder is not None and folder in self._usable and folder not in self._damaged:
            return folder
        if folder is None or not has_index(public_dir(folder)):
            self.repair("there is no search index yet")
        elif read_state(folder).get("schema") != SCHEMA_VERSION:
            self.repair("the search index was built by another version of Span")
        elif folder in self._damaged:
            self.repair(self._damaged[folder])
        else:
            with self._lock:
                self._usable.add(folder)
            return folder
        raise SearchUnavailable("the search index is being rebuilt")

    def _damage(self, folder: Path, reason: str) -> None:
        with self._lock:
            first = folder not in self._damaged
            self._damaged[folder] = reason
        if first:
            log.error("Search index %s is damaged (%s); rebuilding it", folder.name, reason)
        self.readers.forget(folder)
        self.repair(reason)

    # -- reading --------------------------------------------------------------------------------

    def read(self, work: Callable[[Snapshot], T], drafts_of: int | None = None) -> T:
        """``work(snapshot)`` with a searcher of this thread's own. A read that fails inside
        the index is tried once more with a fresh searcher; failing again, the index counts as
        damaged. Raises ``SearchUnavailable`` rather than answer from a damaged index."""
        for attempt in (1, 2):
            try:
                with self.reading(drafts_of) as snapshot:
                    return work(snapshot)
            except SearchUnavailable:
                raise
            except Exception as error:
                if not raised_by_index(error):
                    raise
                folder = self.live_folder()
                if folder is None:
                    raise SearchUnavailable("the search index is being rebuilt") from error
                if attempt == 2:
                    self._damage(folder, f"{type(error).__name__}: {error}")
                    raise SearchUnavailable("the search index is damaged") from error
                self.readers.forget(folder)
        raise AssertionError("unreachable")

    @contextmanager
    def reading(self, drafts_of: int | None = None) -> Iterator[Snapshot]:
        """A searcher of the live index for this thread alone: the public entries, plus the
        drafts of organisation ``drafts_of`` if given."""
        folder = self._readable()
        try:
            with self.readers.reading(folder, drafts_of) as snapshot:
                yield snapshot
        except IndexDamaged as damage:
            self._damage(folder, str(damage))
            raise SearchUnavailable("the search index is damaged") from damage

    def close(self, wait: float = 0) -> None:
        # A merge under way holds the index for others' saves, which it applies after: it is
        # finished, never cut short; one still waiting for a quiet moment is called off.
        self._closing.set()
        if self._merging is not None:
            self._merging.join(max(wait, 60))
        for thread in (self._repairing, self._registering):
            if wait and thread is not None:
                thread.join(wait)
        self.readers.close()
        self._closing.clear()

    # -- the change log -------------------------------------------------------------------------

    def applied(self, folder: Path | None = None) -> int:
        """The highest change-log id applied to the index in ``folder`` (the live one)."""
        return sync.applied_mark(folder or self.live_folder())

    def pending(self) -> int:
        """How many change-log rows the live index has not applied yet."""
        with self.engine.connect() as connection:
            return connection.scalar(
                select(func.count()).where(SearchChange.id > self.applied())
            ) or 0  # fmt: skip

    def catch_up(self, timeout: float | None = None) -> int | None:
        """Apply every pending change. Returns how many entries were written or removed, or
        None if the index was busy for longer than ``timeout`` (whoever holds it applies the
        rest, because whoever applies checks the log again after letting go) or cannot be
        written just now (missing, damaged, being rebuilt)."""
        timeout = self.writer_timeout if timeout is None else timeout
        try:
            folder = self._readable()
        except SearchUnavailable:
            return None
        touched = 0
        while sync.latest_change(self.engine) > self.applied(folder):
            if self.applied(folder) < sync.pruned_through(self.engine):
                self.repair("the change log was pruned past what this index has applied")
                return None
            with file_lock(folder / APPLY_LOCK, timeout) as held:
                if not held:
                    return touched or None
                try:
                    done = sync.apply(folder, self.engine, timeout, self.readers)
                except LockError:
                    done = None
                except Exception as error:
                    if not raised_by_index(error):
                        raise
                    self._damage(folder, f"{type(error).__name__}: {error}")
                    return None
            if done is None:
                return touched or None
            touched += done
        if touched and time.monotonic() - self._registered >= REGISTER_EVERY:
            self._register_in_background(folder)
        if (
            touched
            and self.merge_in_background
            and sync.segment_count(folder) > segments.MERGE_ABOVE_SEGMENTS
        ):
            self._merge_in_background(folder)
        return touched

    def _register(self, folder: Path) -> None:
        """Record this replica and how far it has applied the log in the registry."""
        self._registered = time.monotonic()
        name, location = replica_identity(self.root)
        try:
            sync.register(self.engine, name, location, self.applied(folder))
        except Exception:  # the registry only holds pruning back; never fail for it
            log.warning("Could not record search replica %s in the database", name, exc_info=True)

    def _register_in_background(self, folder: Path) -> None:
        # A request never waits for this write (SQLite lets one writer in at a time); a
        # registry that lags only keeps more of the log than it must.
        with self._lock:
            if self._registering is not None and self._registering.is_alive():
                return
            self._registering = threading.Thread(
                target=self._register, args=(folder,), name="span-search-register", daemon=True
            )
            self._registering.start()

    # -- whole-index operations -----------------------------------------------------------------

    def rebuild(self, *, procs: int = 1, limitmb: int = POOL_MB_AT_MOST) -> RebuildReport:
        """Build a new index from the database and swap it in; waits for any rebuild another
        process is running on this replica to finish first. For the command line: a repair
        inside a serving process builds with Whoosh's smaller default pool of memory."""
        with file_lock(self.root / REBUILD_LOCK, timeout=3600) as held:
            if not held:
                raise LockError("another rebuild of this search index took over an hour")
            report = build(self.root, self.engine, procs=procs, limitmb=limitmb)
        self._register(report.folder)
        return report

    def repair(self, reason: str) -> None:
        """Rebuild in the background (or at once, for the command line), unless a repair is
        already under way in this process or failed a moment ago."""
        with self._lock:
            if self._repairing is not None and self._repairing.is_alive():
                return
            if time.monotonic() - self._repair_tried < REPAIR_RETRY:
                return
            self._repair_tried = time.monotonic()
            if self.repair_in_background:
                self._repairing = threading.Thread(
                    target=self._repair, args=(reason,), name="span-search-repair", daemon=True
                )
                self._repairing.start()
                return
        self._repair(reason)

    def _repair(self, reason: str) -> None:
        try:
            with file_lock(self.root / REBUILD_LOCK, timeout=0) as held:
                if not held:
                    return  # another process is rebuilding; its swap is seen on the next search
                folder = self.live_folder()
                if folder is not None and self._sound(folder):
                    return  # someone else repaired it while we waited
                log.warning("Rebuilding search index: %s", reason)
                report = build(self.root, self.engine)
                log.warning("Search index rebuilt: %d entries in %.1f s", report.documents,
                            report.seconds)  # fmt: skip
            with self._lock:
                self._repair_tried = 0.0
            self.catch_up(timeout=10)
        except Exception:
            log.exception("Rebuilding the search index failed; it will be tried again")

    def _sound(self, folder: Path) -> bool:
        return (
            folder not in self._damaged
            and has_index(public_dir(folder))
            and read_state(folder).get("schema") == SCHEMA_VERSION
            and self.applied(folder) >= sync.pruned_through(self.engine)
        )

    def wait_for_repair(self, timeout: float = 60) -> bool:
        """Wait until no repair is running in this process; whether the index is readable."""
        repairing = self._repairing
        if repairing is not None:
            repairing.join(timeout)
        try:
            self._readable()
        except SearchUnavailable:
            return False
        return True

    def ensure(self) -> tuple[RebuildReport | None, int]:
        """Make the index ready now (for the command line): rebuild it if it cannot be used
        as it is, then catch up. Returns the rebuild's report, if there was one, and how many
        entries the catch-up re-read."""
        folder = self.live_folder()
        report = None
        if folder is None or not self._sound(folder):
            report = self.rebuild()
        return report, self.catch_up(timeout=10) or 0

    def optimize(self) -> sync.Pruned:
        """Merge each index of the live folder into one segment and prune change-log rows
        that every live replica has applied and that are more than a day old."""
        folder = self._readable()
        # A background merge reads its segments without the apply lock: wait for it to
        # finish rather than delete them under it.
        with file_lock(folder / MERGE_LOCK, timeout=OPTIMIZE_WAITS_FOR_MERGE) as merging:
            if not merging:
                raise LockError(
                    "another merge of the search index went on for "
                    f"{OPTIMIZE_WAITS_FOR_MERGE:g} seconds"
                )
            with file_lock(folder / APPLY_LOCK, timeout=OPTIMIZE_WAITS_FOR_SAVES) as held:
                if not held:
                    raise LockError(
                        f"saves kept the search index busy for {OPTIMIZE_WAITS_FOR_SAVES:g} seconds"
                    )
                sync.apply(folder, self.engine, timeout=30)  # pending first
                sync.merge_all(folder)
        self.catch_up()  # whatever was saved while the merge held the index
        self._register(folder)
        return sync.prune(self.engine, self.applied(folder), self.replica_ttl, timedelta(days=1))
