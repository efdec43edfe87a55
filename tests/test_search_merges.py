"""A searcher opened before a merge keeps working after the merge deletes its segments' files.

Whoosh opens some per-segment files only when first read; the index opens them up front so a
request reading while another request (or process) merges never fails.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import update
from whoosh import index as whoosh_index
from whoosh.fields import ID, Schema

from kb.db import utcnow
from kb.models import Entry, SearchChange
from kb.search.folders import PUBLIC
from kb.search.sync import MERGE_ABOVE_SEGMENTS, segment_count
from tests.search_support import assert_opening_fails_and_leaves_no_file_open, index_of


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
