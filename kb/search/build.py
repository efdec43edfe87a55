"""Building a replica's index from scratch, in a new folder swapped in atomically.

With ``procs`` above 1 (from ``PARALLEL_FROM`` entries, on a database another process can
open), two processes share the work so that neither waits for the other until the end:

- the parent indexes the earlier half of the entries into ``public/`` and commits its
  segments at once; a second process, started afresh, indexes the later half into a folder
  of its own;
- the organisations' drafts indexes are shared out between the two by draft count, each
  organisation's written by one process only, after that process's public half;
- once both are done, the second process's segments move into ``public/`` and a second
  commit lists them after the parent's, so documents keep the entries' order.

The writer (postings pooled in arrays, a segment per pool of memory) is in
``rebuild_writer.py``.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import resource
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine
from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage

from kb.search import integrity
from kb.search.documents import all_entry_ids, drafts_by_place, iter_documents
from kb.search.folders import PUBLIC, new_folder, remove_old, swap
from kb.search.rebuild_writer import RebuildWriter
from kb.search.schema import build_schema
from kb.search.sync import latest_change, write_mark

# Postings a rebuild process holds before they become a segment of their own, whatever larger
# pool a caller asks for (Whoosh's 512 MB pool, which holds about 1.3 times what it counts):
# with the rest of the process, under 300 MB.
POOL_MB_AT_MOST = 160
PARALLEL_FROM = 2_000  # entries; below this a second process costs more than it saves
HELPER = "helper"  # the second process's public index, inside the new folder while it is built
DRAFTS_POOL_MB = 16  # an organisation's drafts are few


@dataclass(frozen=True)
class RebuildReport:
    documents: int
    seconds: float
    folder: Path
    segments: int = 1
    peak_mb: float | None = None  # the largest resident size of this process so far


def build(root: Path, engine: Engine, *, procs: int = 1, limitmb: int = 128) -> RebuildReport:
    """Index every entry into a new folder, then make it the live one. The caller holds the
    replica's rebuild lock; searches keep being answered from the old folder meanwhile.

    With ``procs`` above 1 and enough entries, a second process indexes the later half of the
    entries and about half of the drafts at the same time. ``limitmb`` bounds each process's
    memory for postings: when it is full, the postings so far become a segment of their own."""
    started = time.perf_counter()
    limitmb = min(limitmb, POOL_MB_AT_MOST)
    folder = new_folder(root)
    # Read the log's high-water mark before the entries: anything committed later has a
    # higher id, so the catch-up after the swap re-reads it.
    applied = latest_change(engine)
    helper = None
    try:
        public = _open(folder / PUBLIC)
        with engine.connect() as connection:
            ids = all_entry_ids(connection)
            drafts = drafts_by_place(connection)
            if procs > 1 and len(ids) >= PARALLEL_FROM and _shareable(engine):
                ids, later = ids[: len(ids) // 2], ids[len(ids) // 2 :]
                drafts, their_drafts = share_drafts(drafts)
                helper = Helper(engine, folder, later, their_drafts, limitmb)
            count = index_entries(connection, public, ids, limitmb)
        with engine.connect() as connection:
            index_drafts(connection, folder, drafts)
        if helper is not None:
            segments, their_count = helper.finish(folder / PUBLIC)
            append_segments(public, segments)
            count += their_count
        integrity.record(folder)
        write_mark(folder, applied)
    except BaseException:
        if helper is not None:
            helper.stop()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    previous = swap(root, folder)
    remove_old(root, keep={folder, previous})
    seconds = time.perf_counter() - started
    return RebuildReport(count, seconds, folder, len(public._segments()), peak_memory_mb())


def index_entries(connection, index: whoosh_index.FileIndex, ids: list[int], limitmb: int) -> int:
    """Index the public documents of ``ids`` into ``index`` and commit them, in a segment
    of their own whenever the writer's memory is full. Returns how many entries were read.
    Drafts are left to ``index_drafts``."""
    count, writer = 0, RebuildWriter(index, limitmb)
    try:
        for document in iter_documents(connection, ids):
            if document.place == PUBLIC:
                writer.add_document(**document.fields)
                if writer.full():
                    writer.commit(merge=False)  # a segment of its own; memory freed
                    writer = RebuildWriter(index, limitmb)
            count += 1
        writer.commit(merge=False)
    except BaseException:
        if not writer.is_closed:
            writer.cancel()
        raise
    return count


def index_drafts(connection, folder: Path, drafts: dict[str, list[int]]) -> None:
    """Index each organisation's drafts (``drafts``: entry ids by drafts index) into its own
    index, one small writer at a time. An entry that changed index since it was listed
    (published, moved) is left to the catch-up after the swap, which re-reads everything
    committed after the rebuild began; so is an index all of whose drafts did."""
    listed = {entry_id: place for place, entry_ids in drafts.items() for entry_id in entry_ids}
    writer = place = None
    try:
        # In the order listed, so each index's documents come together.
        for document in iter_documents(connection, list(listed)):
            if document.place != listed[int(document.fields["id"])]:
                continue
            if document.place != place:
                if writer is not None:
                    writer.commit()
                place = document.place
                writer = RebuildWriter(_open(folder / place), DRAFTS_POOL_MB)
            writer.add_document(**document.fields)
        if writer is not None:
            writer.commit()
    except BaseException:
        if writer is not None and not writer.is_closed:
            writer.cancel()
        raise


def share_drafts(drafts: dict[str, list[int]]) -> tuple[dict, dict]:
    """The drafts indexes in two shares of about as many drafts each, an organisation's
    drafts all in one: from the largest, each to the share with fewer so far (the first on a
    tie: the second process starts later)."""
    shares: tuple[dict, dict] = ({}, {})
    sizes = [0, 0]
    for place in sorted(drafts, key=lambda place: -len(drafts[place])):
        smaller = 0 if sizes[0] <= sizes[1] else 1
        shares[smaller][place] = drafts[place]
        sizes[smaller] += len(drafts[place])
    return shares


def append_segments(index: whoosh_index.FileIndex, segments: list) -> None:
    """List ``segments`` (their files already in the index's folder) after the index's own."""
    writer = index.writer()
    try:
        writer.commit(mergetype=lambda _writer, own: [*own, *segments])
    except BaseException:
        if not writer.is_closed:
            writer.cancel()
        raise


class Helper:
    """A second process indexing some of the entries into an index of its own, whose
    segments then move into the public index, and some organisations' drafts indexes. Started
    afresh (not forked), with its own database connection, so it shares no state with the
    process that started it."""

    def __init__(self, engine: Engine, folder: Path, ids: list[int], drafts: dict, limitmb: int):
        context = multiprocessing.get_context("spawn")
        self.folder, self.results = folder / HELPER, context.Queue()
        url = engine.url.render_as_string(hide_password=False)
        self.process = context.Process(
            target=_help, args=(url, str(folder), ids, drafts, limitmb, self.results), daemon=True
        )
        self.process.start()

    def finish(self, public: Path) -> tuple[list, int]:
        """Wait for the helper; move its segments' files into ``public``. Returns the
        segments and how many entries it read."""
        while True:
            try:
                segments, count = self.results.get(timeout=1)
                break
            except queue.Empty:
                if not self.process.is_alive():
                    raise RuntimeError("the second indexing process failed") from None
        self.process.join()
        helper = FileStorage(str(self.folder))
        for segment in segments:
            for name in segment.list_files(helper):
                os.replace(self.folder / name, public / name)
        shutil.rmtree(self.folder)
        return segments, count

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()


def _help(url: str, folder: str, ids: list[int], drafts: dict, limitmb: int, results) -> None:
    """The helper process: index ``ids`` into a new index in ``folder``'s helper folder and
    ``drafts`` into their indexes in ``folder``; report back."""
    engine = create_engine(url)
    try:
        index = _open(Path(folder) / HELPER)
        with engine.connect() as connection:
            count = index_entries(connection, index, ids, limitmb)
        with engine.connect() as connection:
            index_drafts(connection, Path(folder), drafts)
        results.put((index._segments(), count))
    finally:
        engine.dispose()


def _shareable(engine: Engine) -> bool:
    """Whether another process can open the same database (not an in-memory SQLite one)."""
    in_memory = engine.url.database in (None, "", ":memory:")
    return engine.url.get_backend_name() != "sqlite" or not in_memory


def peak_memory_mb() -> float:
    """The largest resident size this process (or an indexing process it waited for) has had."""
    scale = 2**20 if sys.platform == "darwin" else 2**10  # bytes on macOS, else kilobytes
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / scale


def _open(path: Path) -> whoosh_index.FileIndex:
    path.mkdir(parents=True, exist_ok=True)
    return whoosh_index.create_in(str(path), build_schema())
