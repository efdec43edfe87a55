"""Merging a replica's small segments in the background, so a save never waits for a merge
and searches keep the segments few (``SearchIndex`` takes this in)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from whoosh.index import LockError

from kb.search import sync
from kb.search.folders import APPLY_LOCK, file_lock
from kb.search.integrity import raised_by_index

log = logging.getLogger(__name__)
MERGES_AT_ONCE = 4  # merges one background run may make, each of small segments
MERGE_WHEN_QUIET_FOR = 1.0  # seconds without a change before a background merge


class BackgroundMerges:
    """Background merging for ``SearchIndex``: at most one merging thread per process."""

    _lock: threading.Lock
    _merging: threading.Thread | None
    _closing: threading.Event
    writer_timeout: float

    def _merge_in_background(self, folder: Path) -> None:
        """Merge small segments in a thread of this process, never in the request that saved;
        the apply lock keeps it to one merge at a time across processes."""
        with self._lock:
            if self._merging is not None and self._merging.is_alive():
                return
            self._merging = threading.Thread(
                target=self._merge_when_quiet, args=(folder,), name="span-search-merge",
                daemon=True,
            )  # fmt: skip
            self._merging.start()

    def _merge_when_quiet(self, folder: Path) -> None:
        """Merge once no change has been applied for ``MERGE_WHEN_QUIET_FOR`` seconds: a merge
        holds the index, so a save during it waits, while a burst of saves only adds small
        segments. Past ``sync.MERGE_NOW_ABOVE`` segments, or a minute, merge anyway."""
        started = time.monotonic()
        while time.monotonic() - started < 60:
            seen = self.applied(folder)
            if self._closing.wait(MERGE_WHEN_QUIET_FOR):
                return
            if self.applied(folder) == seen or sync.segment_count(folder) > sync.MERGE_NOW_ABOVE:
                break
        self.merge(folder)

    def merge(self, folder: Path) -> None:
        """Merge the small segments of the public index in ``folder`` while it has too many,
        one merge at a time, applying what was saved meanwhile after each (a save waits for
        one merge at most). Stops when the index stays busy."""
        for _round in range(MERGES_AT_ONCE):  # like sizes may then merge in turn
            if self._closing.is_set():
                return
            try:
                with file_lock(folder / APPLY_LOCK, self.writer_timeout) as held:
                    if not held:
                        return  # whoever holds it is applying changes, and merges after them
                    merged = sync.merge_small(folder, self.writer_timeout)
            except LockError:
                return  # something outside Span holds Whoosh's lock; the next save tries again
            except Exception as error:
                if raised_by_index(error):
                    self._damage(folder, f"{type(error).__name__}: {error}")
                else:
                    log.exception("Merging the search index's segments failed")
                return
            self.catch_up()  # what was saved while the merge held the index
            if not merged:
                return

    def wait_for_merge(self, timeout: float = 60) -> None:
        """Wait until no merge is running in this process (for tests and the benchmark)."""
        merging = self._merging
        if merging is not None:
            merging.join(timeout)
