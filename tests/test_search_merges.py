"""A searcher opened before a merge keeps working after the merge deletes its segments' files.

Whoosh opens some per-segment files only when first read; the index opens them up front so a
request reading while another request (or process) merges never fails.
"""

from __future__ import annotations

from kb.db import utcnow
from kb.models import Entry, SearchChange
from kb.search.index import MERGE_AFTER_SEGMENTS
from tests.search_support import index_of


def _change(index, entry_ids: list[int], n: int) -> None:
    with index.engine.begin() as connection:
        row = {"entry_id": entry_ids[n % len(entry_ids)], "recorded_at": utcnow()}
        connection.execute(SearchChange.__table__.insert().values(**row))
    index.catch_up()


def _segments(index) -> int:
    return len(index._open()._segments())


def test_a_searcher_opened_before_a_merge_still_reads_after_it(catalogue_app):
    index = index_of(catalogue_app)
    with index.engine.connect() as connection:
        entry_ids = list(connection.scalars(Entry.__table__.select().with_only_columns(Entry.id)))
    n = 0
    while _segments(index) < MERGE_AFTER_SEGMENTS - 1:
        _change(index, entry_ids, n)
        n += 1
    with index.reading() as snapshot:
        searcher = snapshot.searcher
        before = _segments(index)
        while _segments(index) >= before:  # save until one save merges
            _change(index, entry_ids, n)
            n += 1
            assert n < 100, "no merge happened"
        ids = {searcher.stored_fields(doc)["id"] for doc in range(searcher.doc_count_all())}
        results = [hit["id"] for hit in searcher.documents()]
    assert {str(i) for i in entry_ids} <= ids
    assert len(results) >= len(entry_ids)
