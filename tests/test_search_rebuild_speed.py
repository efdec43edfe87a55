"""A rebuild writes, posting for posting, the index Whoosh's own writer and analyser write.

The rebuild analyses in one step, pools postings in arrays and ends a segment when its pool of
memory is full; these tests build the sample catalogue both ways and compare everything a
search reads: terms, postings (document, weight, positions), term statistics, field lengths,
stored fields and sortable columns.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from whoosh import index as whoosh_index
from whoosh.analysis import CharsetFilter, StemmingAnalyzer
from whoosh.fields import TEXT
from whoosh.support.charset import accent_map

from kb.db import db
from kb.models import Entry
from kb.search import build as build_module
from kb.search.build import build
from kb.search.documents import all_entry_ids, iter_documents
from kb.search.folders import PUBLIC, drafts_dir
from kb.search.schema import SORTABLE_FIELDS, TEXT_FIELDS, build_schema
from tests.search_support import edit

CHAIN = StemmingAnalyzer() | CharsetFilter(accent_map)


def whoosh_schema():
    """The schema as Whoosh's own ``TEXT`` fields and five-part analyser would have it."""
    schema = build_schema()
    for name in TEXT_FIELDS:
        field = schema[name]
        schema.remove(name)
        schema.add(name, TEXT(analyzer=CHAIN, field_boost=field.format.field_boost,
                              stored=field.stored))  # fmt: skip
    return schema


def whoosh_build(path: Path, engine) -> None:
    path.mkdir(parents=True)
    writer = whoosh_index.create_in(str(path), whoosh_schema()).writer()
    with engine.connect() as connection:
        for document in iter_documents(connection, all_entry_ids(connection)):
            if document.place == PUBLIC:
                writer.add_document(**document.fields)
    writer.commit()


def everything(reader, per_segment: bool = True) -> dict:
    """What a search can read from an index."""
    fields = [name for name, field in reader.schema.items() if field.indexed]
    seen = {
        "postings": list(reader.iter_postings()),
        "stored": list(reader.all_stored_fields()),
        "lengths": {
            f: [reader.doc_field_length(d, f) for d in reader.all_doc_ids()] for f in fields
        },  # fmt: skip
        "totals": {f: reader.field_length(f) for f in fields},
        "columns": {f: list(reader.column_reader(f)) for f in SORTABLE_FIELDS},
        "documents": reader.doc_count_all(),
    }
    if per_segment:
        seen["terms"] = [
            (key, info.weight(), info.doc_frequency(), info.min_length(), info.max_length(),
             info.max_weight(), info.min_id(), info.max_id())
            for key, info in ((key, reader.term_info(*key)) for key in reader.all_terms())
        ]  # fmt: skip
    return seen


def test_a_rebuild_writes_what_whoosh_writes(catalogue_app, tmp_path):
    with catalogue_app.app_context():
        report = build(tmp_path / "span", db.engine)
        whoosh_build(tmp_path / "whoosh", db.engine)
    ours = whoosh_index.open_dir(str(report.folder / PUBLIC)).reader()
    theirs = whoosh_index.open_dir(str(tmp_path / "whoosh")).reader()
    try:
        assert report.segments == 1 and len(list(ours.leaf_readers())) == 1
        assert len(list(ours.iter_postings())) > 10_000
        assert everything(ours) == everything(theirs)
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize("limitmb", [0, 1])
def test_a_full_pool_of_memory_ends_a_segment_and_loses_nothing(catalogue_app, tmp_path, limitmb):
    with catalogue_app.app_context():
        report = build(tmp_path / "span", db.engine, limitmb=limitmb)
        whoosh_build(tmp_path / "whoosh", db.engine)
    ours = whoosh_index.open_dir(str(report.folder / PUBLIC)).reader()
    theirs = whoosh_index.open_dir(str(tmp_path / "whoosh")).reader()
    try:
        segments = len(list(ours.leaf_readers()))
        assert segments == report.segments > 1
        if limitmb == 0:  # a segment per entry
            assert segments == theirs.doc_count_all()
        assert everything(ours, per_segment=False) == everything(theirs, per_segment=False)
    finally:
        ours.close()
        theirs.close()


def test_a_rebuild_reports_its_peak_memory(catalogue_app, tmp_path):
    with catalogue_app.app_context():
        report = build(tmp_path / "span", db.engine)
    assert 20 < report.peak_mb < 2_000


def test_two_processes_write_what_one_writes_in_the_same_order(
    catalogue_app, tmp_path, monkeypatch
):
    monkeypatch.setattr(build_module, "PARALLEL_FROM", 2)
    with catalogue_app.app_context():
        report = build(tmp_path / "span", db.engine, procs=2)
        whoosh_build(tmp_path / "whoosh", db.engine)
    ours = whoosh_index.open_dir(str(report.folder / PUBLIC)).reader()
    theirs = whoosh_index.open_dir(str(tmp_path / "whoosh")).reader()
    try:
        assert report.segments == len(list(ours.leaf_readers())) == 2
        assert everything(ours, per_segment=False) == everything(theirs, per_segment=False)
    finally:
        ours.close()
        theirs.close()
    assert not (report.folder / "helper").exists()


def test_a_rebuild_holds_no_more_postings_than_its_bound_whatever_it_is_asked(
    catalogue_app, tmp_path, monkeypatch
):
    monkeypatch.setattr(build_module, "POOL_MB_AT_MOST", 0)
    with catalogue_app.app_context():
        report = build(tmp_path / "span", db.engine, limitmb=512)
        public = whoosh_index.open_dir(str(report.folder / PUBLIC))
        assert report.segments == len(public._segments()) == public.doc_count_all() > 1


@pytest.mark.parametrize("procs", [1, 2])
def test_drafts_go_into_their_organisations_indexes_only(
    catalogue_app, tmp_path, monkeypatch, procs
):
    monkeypatch.setattr(build_module, "PARALLEL_FROM", 2)
    session = catalogue_app.extensions["kb.db"]()
    entries = session.scalars(select(Entry).order_by(Entry.id)).all()
    chosen = [entries[0], entries[1], entries[-1]]  # the last one in the second process's half
    for entry in chosen:
        edit(session, entry, status="draft")
    session.commit()
    expected = {}
    for entry in chosen:
        expected.setdefault(entry.organisation_id, set()).add(str(entry.id))
    session.close()
    with catalogue_app.app_context():
        report = build(tmp_path / "span", db.engine, procs=procs)
    with whoosh_index.open_dir(str(report.folder / PUBLIC)).searcher() as searcher:
        public = {fields["id"] for fields in searcher.all_stored_fields()}
    assert public and not public & {str(entry.id) for entry in chosen}
    found = {}
    for organisation_id in expected:
        path = drafts_dir(report.folder, organisation_id)
        with whoosh_index.open_dir(str(path)).searcher() as searcher:
            found[organisation_id] = {fields["id"] for fields in searcher.all_stored_fields()}
    assert found == expected
    assert report.documents == len(entries)
