"""Building a replica's index from scratch, in a new folder swapped in atomically.

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
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine
from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage

from kb.search import integrity
from kb.search.documents import all_entry_ids, iter_documents
from kb.search.folders import PUBLIC, new_folder, remove_old, swap
from kb.search.rebuild_writer import RebuildWriter
from kb.search.schema import build_schema
from kb.search.sync import latest_change, write_mark

# Postings a rebuild process holds before they become a segment of their own, whatever larger
# pool a caller asks for (Whoosh's 512 MB pool, which holds about 1.3 times what it counts):
# with the rest of the process, under 300 MB.
POOL_MB_AT_MOST = 160
PARALLEL_FROM = 2_000  # entries; below this a second process costs more than it saves
HELPER = "helper"  # the second process's folder, inside the new one while it is built


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
    entries at the same time. ``limitmb`` bounds each process's memory for postings: when it
    is full, the postings so far become a segment of their own."""
    started = time.perf_counter()
    limitmb = min(limitmb, POOL_MB_AT_MOST)
    folder = new_folder(root)
    # Read the log's high-water mark before the entries: anything committed later has a
    # higher id, so the catch-up after the swap re-reads it.
    applied = latest_change(engine)
    drafts: dict[str, list[int]] = defaultdict(list)  # each drafts index's entries
    helper = writer = None
    try:
        public = _open(folder / PUBLIC)
        with engine.connect() as connection:
            ids = all_entry_ids(connection)
            if procs > 1 and len(ids) >= PARALLEL_FROM and _shareable(engine):
                ids, later = ids[: len(ids) // 2], ids[len(ids) // 2 :]
                helper = Helper(engine, folder / HELPER, later, limitmb)
            writer, count = index_entries(connection, public, ids, limitmb, drafts)
        if helper is not None:
            # Its segments follow ours, so documents keep the entries' order.
            writer.also, their_drafts, their_count = helper.finish(folder / PUBLIC)
            for place, entry_ids in their_drafts.items():
                drafts[place].extend(entry_ids)
            count += their_count
        writer.commit(merge=False)
        with engine.connect() as connection:
            index_drafts(connection, folder, drafts)
        integrity.record(folder)
        write_mark(folder, applied)
    except BaseException:
        if helper is not None:
            helper.stop()
        if writer is not None and not writer.is_closed:
            writer.cancel()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    previous = swap(root, folder)
    remove_old(root, keep={folder, previous})
    seconds = time.perf_counter() - started
    return RebuildReport(count, seconds, folder, len(public._segments()), peak_memory_mb())


def index_entries(
    connection, index: whoosh_index.FileIndex, ids: list[int], limitmb: int, drafts: dict
) -> tuple[RebuildWriter, int]:
    """Index the public documents of ``ids`` into ``index``, committing a segment whenever
    the writer's memory is full, and list drafts in ``drafts`` by the index they belong in.
    Returns the last writer, not committed yet, and how many entries were read."""
    count, writer = 0, RebuildWriter(index, limitmb)
    try:
        for document in iter_documents(connection, ids):
            if document.place == PUBLIC:
                writer.add_document(**document.fields)
                if writer.full():
                    writer.commit(merge=False)  # a segment of its own; memory freed
                    writer = RebuildWriter(index, limitmb)
            else:
                drafts[document.place].append(int(document.fields["id"]))
            count += 1
    except BaseException:
        if not writer.is_closed:
            writer.cancel()
        raise
    return writer, count


def index_drafts(connection, folder: Path, drafts: dict[str, list[int]]) -> None:
    """Index each organisation's drafts into its own index, one small writer at a time, read
    again from the database so that memory does not grow with them. An entry that changed
    index since (published, moved) is left to the catch-up after the swap, which re-reads
    everything committed after the rebuild began."""
    done: set[str] = set()
    writer = place = None
    ids = [entry_id for entry_ids in drafts.values() for entry_id in entry_ids]
    for document in iter_documents(connection, ids):
        if document.place != place:
            if writer is not None:
                writer.commit()
                done.add(place)
                writer = None
            place = document.place
            if place == PUBLIC or place in done:
                continue
            writer = RebuildWriter(_open(folder / place), 16)
        if writer is not None:
            writer.add_document(**document.fields)
    if writer is not None:
        writer.commit()


class Helper:
    """A second process indexing some of the entries into an index of its own, whose
    segments then move into the public index. Started afresh (not forked), with its own
    database connection, so it shares no state with the process that started it."""

    def __init__(self, engine: Engine, folder: Path, ids: list[int], limitmb: int):
        context = multiprocessing.get_context("spawn")
        self.folder, self.results = folder, context.Queue()
        url = engine.url.render_as_string(hide_password=False)
        self.process = context.Process(
            target=_help, args=(url, str(folder), ids, limitmb, self.results), daemon=True
        )
        self.process.start()

    def finish(self, public: Path) -> tuple[list, dict, int]:
        """Wait for the helper; move its segments' files into ``public``. Returns the
        segments, the drafts it found (entry ids by index) and how many entries it read."""
        while True:
            try:
                segments, drafts, count = self.results.get(timeout=1)
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
        return segments, drafts, count

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()


def _help(url: str, folder: str, ids: list[int], limitmb: int, results) -> None:
    """The helper process: index ``ids`` into a new index in ``folder``; report back."""
    engine = create_engine(url)
    try:
        drafts: dict[str, list[int]] = defaultdict(list)
        index = _open(Path(folder))
        with engine.connect() as connection:
            writer, count = index_entries(connection, index, ids, limitmb, drafts)
        writer.commit(merge=False)
        results.put((index._segments(), dict(drafts), count))
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
