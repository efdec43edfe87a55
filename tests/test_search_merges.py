"""Merging segments while others read and save.

A searcher opened before a merge keeps working after the merge deletes its segments' files
(Whoosh opens some per-segment files only when first read; the index opens them up front so a
request reading while another request or process merges never fails). A save while a merge is
built is applied at once and survives the merge.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from contextlib import ExitStack

import pytest
from sqlalchemy import update
from whoosh import index as whoosh_index
from whoosh.fields import ID, Schema
from whoosh.index import LockError
from whoosh.writing import SegmentWriter

from kb.db import utcnow
from kb.models import Entry, SearchChange, Status
from kb.search import index as index_module
from kb.search import merge_process, segments, sync
from kb.search.folders import APPLY_LOCK, MERGE_LOCK, PUBLIC, file_lock
from kb.search.segments import MERGE_ABOVE_SEGMENTS
from kb.search.sync import segment_count
from tests.search_support import assert_opening_fails_and_leaves_no_file_open, drift, index_of


def _change(index, entry_ids: list[int], n: int) -> None:
    """A real change to one entry (an unchanged document is never rewritten), then catch up."""
    entry_id = entry_ids[n % len(entry_ids)]
    with index.engine.begin() as connection:
        connection.execute(
            update(Entry).where(Entry.id == entry_id).values(summary=f"Merge fodder {n}")
        )
        row = {"entry_id": entry_id, "recorded_at": utcnow()}
        connection.execute(SearchChange.__table__.insert().values(**row))
    index.catch_up()
    index.wait_for_merge()


def _segments(index) -> int:
    return len(_segment_ids(index))


def _segment_ids(index) -> set[str]:
    segments = whoosh_index.open_dir(str(index.live_folder() / "public"))._segments()
    return {segment.segment_id() for segment in segments}


def test_a_searcher_opened_before_a_merge_still_reads_after_it(catalogue_app):
    index = index_of(catalogue_app)
    with index.engine.connect() as connection:
        entry_ids = list(connection.scalars(Entry.__table__.select().with_only_columns(Entry.id)))
    n = 0
    while _segments(index) < MERGE_ABOVE_SEGMENTS:
        _change(index, entry_ids, n)
        n += 1
    with index.reading() as snapshot:
        searcher = snapshot.searcher
        opened = _segment_ids(index)
        while opened <= _segment_ids(index):  # save until a merge removes a segment it reads
            _change(index, entry_ids, n)
            n += 1
            assert n < 100, "no merge happened"
        ids = {searcher.stored_fields(doc)["id"] for doc in range(searcher.doc_count_all())}
        results = [hit["id"] for hit in searcher.documents()]
        # Columns too: Whoosh looks for a column's file on every read, and once the merge
        # deleted it would have read every reuse count as the default.
        reader = searcher.reader()
        counts = reader.column_reader("borrow_count")
        stored = [
            searcher.stored_fields(doc)["borrow_count"] for doc in range(reader.doc_count_all())
        ]
        read = [counts[doc] for doc in range(reader.doc_count_all())]
    assert {str(i) for i in entry_ids} <= ids
    assert len(results) >= len(entry_ids)
    assert max(stored) > 0 and read == stored


def test_a_segment_merged_away_while_a_searcher_opens_leaves_no_file_open(catalogue_app):
    """Opening reads the table of contents, then each segment. A merge that deletes a later
    segment in between fails the opening (to be retried); the segments opened before it must
    be closed then, not left to the garbage collector with their files open."""
    index = index_of(catalogue_app)
    with index.engine.connect() as connection:
        entry_ids = list(connection.scalars(Entry.__table__.select().with_only_columns(Entry.id)))
    for n in range(2):
        _change(index, entry_ids, n)
    public = index.live_folder() / "public"
    segments = whoosh_index.open_dir(str(public))._segments()
    assert len(segments) >= 2
    newest = segments[-1].segment_id()
    for path in public.glob(f"{newest}.*"):
        path.unlink()
    assert_opening_fails_and_leaves_no_file_open(index.live_folder())


def test_counting_segments_while_commits_replace_the_table_of_contents_never_fails(tmp_path):
    """Each commit writes a new table of contents and deletes the old one; the background
    merge and every save count segments meanwhile, without the apply lock. Whoosh lists the
    folder, then opens what it listed: without reading again, about one count in a hundred
    raised FileNotFoundError (killing the merge thread, or failing a save's request)."""
    (tmp_path / PUBLIC).mkdir()
    index = whoosh_index.create_in(str(tmp_path / PUBLIC), Schema(id=ID(stored=True)))
    stop, commits = threading.Event(), []

    def commit_repeatedly() -> None:
        while not stop.is_set():
            writer = index.writer()
            writer.add_document(id=str(len(commits)))
            writer.commit()
            commits.append(1)

    committer = threading.Thread(target=commit_repeatedly)
    committer.start()
    counts = []
    try:
        deadline = time.monotonic() + 10
        while len(commits) < 200 and time.monotonic() < deadline:
            counts.append(segment_count(tmp_path))
    finally:
        stop.set()
        committer.join()
    assert len(commits) >= 200 and len(counts) >= 200  # each count read a table of contents


def _past_the_threshold(index) -> list[int]:
    """Save until the public index has more segments than a merge allows (merging kept for
    the test to start); the entries' ids."""
    index.merge_in_background = False
    with index.engine.connect() as connection:
        entry_ids = list(connection.scalars(Entry.__table__.select().with_only_columns(Entry.id)))
    n = 0
    while _segments(index) <= MERGE_ABOVE_SEGMENTS:
        _change(index, entry_ids, n)
        n += 1
    return entry_ids


@pytest.mark.parametrize("change", ["edited", "withdrawn"])
def test_a_save_while_a_merge_is_built_is_applied_at_once_and_survives_the_merge(
    catalogue_app, monkeypatch, change
):
    """A background merge builds its segment without the apply lock, so a save meanwhile is
    applied at once instead of waiting for the merge. The save replaces (or removes) a
    document of a segment being merged: the swap deletes it from the merged segment too, so
    the old text never comes back and a withdrawn entry never reappears in public search."""
    index = index_of(catalogue_app)
    _past_the_threshold(index)
    folder = index.live_folder()
    before = _segment_ids(index)
    adding = SegmentWriter.add_reader
    saved: list[tuple[int, int | None]] = []

    def save_midway(writer, reader) -> None:
        if not saved:
            entry_id = int(reader.stored_fields(next(iter(reader.all_doc_ids())))["id"])
            values = {"summary": "Saved while merging"}
            if change == "withdrawn":
                values["status"] = Status.DRAFT.value
            with index.engine.begin() as connection:
                connection.execute(update(Entry).where(Entry.id == entry_id).values(**values))
                row = {"entry_id": entry_id, "recorded_at": utcnow()}
                connection.execute(SearchChange.__table__.insert().values(**row))
            saved.append((entry_id, index.catch_up(timeout=1)))
        adding(writer, reader)

    monkeypatch.setattr(SegmentWriter, "add_reader", save_midway)
    monkeypatch.setattr(index, "merge_in_own_process", False)  # to step in while it builds
    index.merge(folder)
    assert saved and saved[0][1], "the save waited for the merge"
    assert not before <= _segment_ids(index), "no merge happened"
    assert drift(catalogue_app).clean, drift(catalogue_app)
    with index.reading() as snapshot:
        reader = snapshot.searcher.reader()
        held = (
            reader.postings("id", str(saved[0][0])).all_ids()
            if ("id", str(saved[0][0])) in reader
            else []
        )
        summaries = [reader.stored_fields(d)["summary"] for d in held if not reader.is_deleted(d)]
    assert summaries == ([] if change == "withdrawn" else ["Saved while merging"])
    assert not list(folder.glob(f"public/{segments.SCRATCH_PREFIX}*")), "scratch left behind"


def test_a_merge_whose_segments_another_merge_took_is_dropped(catalogue_app):
    """Two merges built at once from the same segments (another process, or ``kb optimize``):
    the second to swap finds its segments gone and drops its work, rather than list the same
    documents twice."""
    index = index_of(catalogue_app)
    _past_the_threshold(index)
    folder = index.live_folder()
    plan = segments.plan(folder / PUBLIC)
    assert plan is not None
    built = segments.build(folder / PUBLIC, plan)
    with file_lock(folder / APPLY_LOCK, 5) as held:
        assert held
        sync.merge_all(folder)
        assert segments.swap(folder / PUBLIC, built, timeout=5) is False
    assert segment_count(folder) == 1
    assert not built.scratch.exists()
    assert drift(catalogue_app).clean, drift(catalogue_app)


def test_kb_optimize_waits_for_a_merge_being_built(catalogue_app, monkeypatch):
    """A background merge reads its segments without the apply lock; ``kb optimize`` merging
    them away meanwhile would pull their files from under it (and its error would pass for a
    damaged index). So the full merge waits for the one being built."""
    index = index_of(catalogue_app)
    _past_the_threshold(index)
    adding = SegmentWriter.add_reader
    optimizing: list[threading.Thread] = []
    outcome: list = []

    def optimize_midway(writer, reader) -> None:
        if not optimizing:

            def optimize() -> None:
                try:
                    outcome.append(index.optimize())
                except Exception as error:  # noqa: BLE001 - reported below
                    outcome.append(error)

            optimizing.append(threading.Thread(target=optimize))
            optimizing[0].start()
            optimizing[0].join(5)
            outcome.append("finished during the merge" if outcome else "waited")
        adding(writer, reader)

    monkeypatch.setattr(SegmentWriter, "add_reader", optimize_midway)
    monkeypatch.setattr(index, "merge_in_own_process", False)  # to step in while it builds
    index.merge(index.live_folder())
    optimizing[0].join(60)
    assert outcome[0] == "waited"
    assert isinstance(outcome[1], sync.Pruned), outcome[1]
    assert index.problem() is None
    assert segment_count(index.live_folder()) == 1
    assert drift(catalogue_app).clean, drift(catalogue_app)


def test_counting_segments_of_an_index_that_is_gone_finds_none(tmp_path):
    """A save's catch-up counts segments after applying; a folder removed meanwhile (two
    rebuilds later) or never indexed has none to merge, rather than failing the request."""
    assert segment_count(tmp_path / "removed") == 0
    (tmp_path / PUBLIC).mkdir()
    assert segment_count(tmp_path) == 0


def test_a_background_merge_is_built_in_a_process_of_its_own(catalogue_app, monkeypatch):
    """Built by a thread of the serving process, a merge took turns at the interpreter with
    that process's saves and searches (doubling a save's catch-up while it ran). The serving
    process now only plans and swaps; building it here fails this test."""
    index = index_of(catalogue_app)
    _past_the_threshold(index)
    folder = index.live_folder()
    before = _segment_ids(index)

    def built_here(*_args):
        raise AssertionError("the merge was built in the serving process")

    monkeypatch.setattr(segments, "build", built_here)
    index.merge(folder)
    assert not before <= _segment_ids(index), "no merge happened"
    assert index.problem() is None
    assert drift(catalogue_app).clean, drift(catalogue_app)
    assert not list(folder.glob(f"public/{segments.SCRATCH_PREFIX}*")), "scratch left behind"


def test_a_merge_failing_in_the_index_files_of_its_own_process_says_so(catalogue_app):
    """Whether a failure came from the index's files is decided from its traceback, which
    stays in the merging process: it sends the verdict back, so a damaged index is still
    found (and rebuilt) rather than logged as a bug."""
    index = index_of(catalogue_app)
    _past_the_threshold(index)
    folder = index.live_folder()
    plan = segments.plan(folder / PUBLIC)
    assert plan is not None
    for path in (folder / PUBLIC).glob(f"{plan.segments[0].segment_id()}.*"):
        path.unlink()
    with pytest.raises(merge_process.BuildFailed) as failure:
        merge_process.build(folder / PUBLIC, plan)
    assert failure.value.in_index, failure.value
    assert "FileNotFoundError" in str(failure.value)


def test_a_merging_process_that_dies_during_a_merge_leaves_the_index_as_it_was(
    catalogue_app, caplog
):
    """A merging process that dies while it builds (the out-of-memory killer, say) is logged
    as a failed merge, not taken for a damaged index; the index keeps every segment, and the
    next merge starts another merging process and does the work."""
    index = index_of(catalogue_app)
    _past_the_threshold(index)
    folder = index.live_folder()
    merge_process._merging.stop()
    # A stand-in that dies as soon as it is asked for a merge.
    merge_process._merging._child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.buffer.read(1)"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    before = _segment_ids(index)
    index.merge(folder)
    assert "the merging process died" in caplog.text
    assert _segment_ids(index) == before
    assert index.problem() is None
    index.merge(folder)
    assert not before <= _segment_ids(index), "the next merge did not happen"
    assert drift(catalogue_app).clean, drift(catalogue_app)


def test_a_merging_process_gone_between_merges_is_replaced(catalogue_app, caplog):
    """Killed while idle, it is noticed at the next merge, which starts another (closing the
    pipes to the one that went) and merges."""
    index = index_of(catalogue_app)
    _past_the_threshold(index)
    child = merge_process._merging._running()
    child.kill()
    child.wait()
    before = _segment_ids(index)
    index.merge(index.live_folder())
    assert "merging process exited" in caplog.text
    assert merge_process.merging_pid() not in (None, child.pid)
    assert child.stdin.closed and child.stdout.closed
    assert not before <= _segment_ids(index), "the merge did not happen"


def test_a_process_forked_after_a_merge_starts_its_own_merging_process():
    """A forked process (a server's worker) that wrote to its parent's merging process would
    mix its requests with the parent's; it starts its own instead, and closes its copies of
    the parent's pipes so that the parent's merging process still sees the parent go."""
    merge_process._merging._running()
    parents = merge_process.merging_pid()
    pid = os.fork()
    if pid == 0:  # the forked process: reports through its exit code
        os._exit(0 if merge_process.merging_pid() is None else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert merge_process.merging_pid() == parents


@pytest.mark.parametrize(
    ("held", "says"),
    [((MERGE_LOCK, APPLY_LOCK), "another merge"), ((APPLY_LOCK,), "saves kept the search")],
)
def test_kb_optimize_says_which_wait_ran_out(catalogue_app, monkeypatch, held, says):
    """A merge holding the index past the wait is not then followed by the wait for saves,
    and the message names what kept the index busy."""
    monkeypatch.setattr(index_module, "OPTIMIZE_WAITS_FOR_MERGE", 0.2)
    monkeypatch.setattr(index_module, "OPTIMIZE_WAITS_FOR_SAVES", 0.2 if len(held) == 1 else 5)
    index = index_of(catalogue_app)
    with ExitStack() as locks:
        for name in held:
            assert locks.enter_context(file_lock(index.live_folder() / name, 0))
        started = time.monotonic()
        with pytest.raises(LockError, match=says) as raised:
            index.optimize()
    assert time.monotonic() - started < 2, "it waited for saves after the merge's wait ran out"
    assert "for 0.2 seconds" in str(raised.value)  # the wait that ran out, as long as it was
