"""Merging a replica's small segments in the background, so a save never waits for a merge
(only for its swap: ``segments.py``) and searches keep the segments few (``SearchIndex``
takes this in)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from whoosh.index import LockError

from kb.search import sync
from kb.search.folders import MERGE_LOCK, file_lock
from kb.search.integrity import raised_by_index
from kb.search.merge_process import BuildFailed

log = logging.getLogger(__name__)
MERGES_AT_ONCE = 4  # merges one background run may make, each of small segments
MERGE_WHEN_QUIET_FOR = 1.0  # seconds without a change before a background merge
SWAP_WAIT = 10.0  # seconds a built merge waits for saves to let go of the apply lock


class BackgroundMerges:
    """Background merging for ``SearchIndex``: at most one merging thread per process."""

    _lock: threading.Lock
    _merging: threading.Thread | None
    _closing: threading.Event
    writer_timeout: float
    # Off only for tests that step into a merge while it is built.
    merge_in_own_process: bool = True

    def _merge_in_background(self, folder: Path) -> None:
        """Merge small segments from a thread of this process, never in the request that
        saved, each merge built in a process of its own; the merge lock keeps it to one merge
        at a time across processes."""
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
        takes processor time from the saves and searches of a burst, which only adds small
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
        one merge at a time, each built without the apply lock, which it takes only to swap
        the merged segment in (a save waits for that at most). Then applies what was saved
        meanwhile, if a save left it. Stops when another process is merging this folder."""
        for _round in range(MERGES_AT_ONCE):  # like sizes may then merge in turn
            if self._closing.is_set():
                return
            try:
                with file_lock(folder / MERGE_LOCK, 0) as mine:
                    if not mine:
                        return  # another process is merging this folder
                    merged = sync.merge_small(
                        folder,
                        self.writer_timeout,
                        SWAP_WAIT,
                        own_process=self.merge_in_own_process,
                    )
            except LockError:
                return  # something outside Span holds Whoosh's lock; the next save tries again
            except BuildFailed as failure:
                if failure.in_index:
                    self._damage(folder, str(failure))
                else:
                    log.error("Merging the search index's segments failed: %s", failure)
                return
            except Exception as error:
                if raised_by_index(error):
                    self._damage(folder, f"{type(error).__name__}: {error}")
                else:
                    log.exception("Merging the search index's segments failed")
                return
            self.catch_up()
            if not merged:
                return

    def wait_for_merge(self, timeout: float = 60) -> None:
        """Wait until no merge is running in this process (for tests and the benchmark)."""
        merging = self._merging
        if merging is not None:
            merging.join(timeout)
