"""Matches worked out from postings kept per segment stay right as the index changes: after a
save (a new segment, and a deletion in an old one), a removal, a background merge and a full
merge, a warm process answers exactly as a process opening the index afresh, and as the
database says."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select
from whoosh import fields
from whoosh.index import create_in

from kb.db import db
from kb.entries.content import current_content
from kb.models import Entry, Status
from kb.search.index import SearchIndex
from kb.search.postings import (
    SegmentCache,
    members,
    segment_id,
    subsearchers,
    term_postings,
    to_bits,
)
from kb.search.schema import SPELLING_ANALYZER, TEXT_ANALYZER
from kb.search.segments import MERGE_ABOVE_SEGMENTS, smallest
from kb.search.service import SearchRequest, search
from kb.search.spelling import suggest
from kb.search.sync import segment_count
from tests.search_support import edit, index_of

NOTE = "\n\nQuillet note "
# Merges fold segments of about the same size, so a few more than the threshold may stay.
FEW = 2 * MERGE_ABOVE_SEGMENTS
REQUESTS = [
    SearchRequest("quillet"),
    SearchRequest("quillet ferry"),
    SearchRequest("quillet", {"channel": ("facebook",)}),
    SearchRequest("podcast"),
    SearchRequest("winter phone calls"),
    SearchRequest("channel:youtube"),
    SearchRequest("", {"sector": ("police",)}),
]


def page(results) -> tuple:
    """What a results page shows that comes from the index."""
    return (
        results.total,
        [(hit.entry.id, hit.title, hit.snippets, hit.reused) for hit in results.hits],
        [(hit.entry.id, hit.title, hit.snippets) for hit in results.partial],
        [(f, [(v.value, v.count) for v in values]) for f, _label, values in results.facets],
    )


def pages(app, index) -> list[tuple]:
    synonyms = app.extensions["kb.search.synonyms"]
    with app.app_context():
        return [page(search(index, db.session, request, synonyms)) for request in REQUESTS]


def fresh_pages(app) -> list[tuple]:
    """The same searches from a new index object: nothing cached."""
    with app.app_context():
        fresh = SearchIndex(index_of(app).root, db.engine)
    try:
        return pages(app, fresh)
    finally:
        fresh.close()


def quillet_ids(app) -> set[int]:
    """Published entries whose summary holds the test's made-up word, from the database."""
    with app.app_context():
        rows = db.session.execute(select(Entry.id, Entry.summary, Entry.status))
        return {i for i, summary, status in rows if "quillet" in summary and status == "published"}


def _save(app, entry_id: int, **changes) -> None:
    with app.app_context():
        session = db.session
        edit(session, session.get(Entry, entry_id), **changes)
        session.commit()
    index_of(app).catch_up()


def test_warm_caches_answer_as_a_fresh_index_through_saves_removals_and_merges(catalogue_app):
    index = index_of(catalogue_app)
    with catalogue_app.app_context():
        ids = db.session.scalars(
            select(Entry.id).where(Entry.status == Status.PUBLISHED.value).order_by(Entry.id)
        ).all()
    rng = random.Random(5)
    pages(catalogue_app, index)  # warm every cache
    for step in range(12):
        entry_id = rng.choice(ids)
        if step % 4 == 3:  # out of the public index, then back
            _save(catalogue_app, entry_id, status=Status.DRAFT.value)
        else:  # the title and body too: what a hit shows of them is kept per segment
            with catalogue_app.app_context():
                content = current_content(db.session.get(Entry, entry_id))
            _save(
                catalogue_app,
                entry_id,
                title=f"{content.title.split(' (quillet')[0]} (quillet {step})",
                summary=f"{content.summary.split(' quillet')[0]} quillet ferry {step}",
                body=f"{content.body.split(NOTE)[0]}{NOTE}{step} on the quillet ferry.",
            )
        # Both read the same generation: ties rank by document number, which a merge changes.
        index.wait_for_merge()
        assert segment_count(index.live_folder()) <= FEW
        warm = pages(catalogue_app, index)
        assert warm == fresh_pages(catalogue_app), f"step {step}"
        assert warm[0][0] == len(quillet_ids(catalogue_app))
    index.optimize()
    assert segment_count(index.live_folder()) == 1
    assert pages(catalogue_app, index) == fresh_pages(catalogue_app)


def test_the_first_search_after_a_save_opens_only_its_new_segment(catalogue_app):
    """Segments never change but for deletions, so the searcher after a save takes over the
    open readers of the segments still listed, seeing the save's deletion in them, and opens
    only the save's own segment."""
    index = index_of(catalogue_app)
    index.merge_in_background = False
    with catalogue_app.app_context():
        entry_id = db.session.scalars(
            select(Entry.id).where(Entry.status == Status.PUBLISHED.value).order_by(Entry.id)
        ).first()

    def leaves(snapshot) -> dict:
        found = snapshot.searcher.reader().leaf_readers()
        return {leaf.segment().segment_id(): leaf for leaf, _offset in found}

    def summaries(snapshot) -> list[str]:
        return [fields["summary"] for fields in snapshot.searcher.documents(id=str(entry_id))]

    pages(catalogue_app, index)
    before = index.read(leaves)
    _save(catalogue_app, entry_id, summary="Quillet reopened")
    after = index.read(leaves)
    assert len(set(after) - set(before)) == 1
    assert all(after[segment] is before[segment] for segment in before)
    assert index.read(summaries) == ["Quillet reopened"]
    assert pages(catalogue_app, index) == fresh_pages(catalogue_app)


def test_saves_never_merge_and_the_background_keeps_segments_few(catalogue_app):
    index = index_of(catalogue_app)
    with catalogue_app.app_context():
        ids = db.session.scalars(select(Entry.id).where(Entry.status == "published")).all()
    most = 0
    for n, entry_id in enumerate(ids[:20]):
        _save(catalogue_app, entry_id, summary=f"Segment fodder {n}")
        most = max(most, segment_count(index.live_folder()))
        index.wait_for_merge()
    assert most > MERGE_ABOVE_SEGMENTS  # the save itself left the new segment
    assert segment_count(index.live_folder()) <= FEW


def test_bitsets_and_a_bounded_cache():
    docs = [0, 3, 7, 8, 64, 1000]
    assert members(to_bits(docs)) == docs and members(0) == [] and to_bits([]) == 0
    rng = random.Random(16)
    for size in (1, 9, 200, 5_000, 9_999):  # sparse and dense sets take different paths
        docs = sorted(rng.sample(range(10_000), size))
        bits = sum(1 << d for d in docs)
        shuffled = rng.sample(docs, len(docs))  # a segment's deletions come in any order
        assert to_bits(docs) == to_bits(shuffled) == bits
        assert members(bits) == docs
    cache = SegmentCache(limit=1000)
    for n in range(50):
        cache.put(("segment", n), n, 100)
        assert cache.size <= 1000
    assert cache.get(("segment", 0)) is None and cache.get(("segment", 49)) == 49
    cache.keep_only({"other"})
    assert len(cache) == 0 and cache.size == 0


class _Segment:
    def __init__(self, name: str, size: int):
        self.name, self.size = name, size

    def doc_count_all(self) -> int:
        return self.size

    def segment_id(self) -> str:
        return self.name


@pytest.mark.parametrize(
    ("sizes", "merged"),
    [
        ([5000, 5000, 1, 1], [1, 1]),  # the rebuild's large segments stay as they are
        ([5000, 5000, 40, 1], []),  # nothing of about the same size to merge with
        ([44, 3, 1, 1], [1, 1, 3]),
        ([5, 5, 1, 4500], [5, 5]),  # a new segment does not keep older small ones apart
        ([300, 300, 300, 300], []),  # too large for a background merge
    ],
)
def test_merges_fold_the_smallest_segments_of_about_the_same_size(sizes, merged):
    segments = [_Segment(f"s{n}", size) for n, size in enumerate(sizes)]
    assert [segment.size for segment in smallest(segments)] == merged


def test_a_terms_postings_are_read_a_block_at_a_time_as_whoosh_reads_them(tmp_path):
    """Postings longer than a block, with weights, as Whoosh's matcher gives them one by one."""
    schema = fields.Schema(body=fields.TEXT(analyzer=TEXT_ANALYZER))
    index = create_in(tmp_path, schema)
    with index.writer() as writer:
        for n in range(1_000):
            words = ["ferry"] * (n % 7 + 1) if n % 3 else ["quillet"]
            writer.add_document(body=" ".join(words + ["harbour"] * (n % 2)))
    with index.reader() as reader:
        for word in map(TEXT_ANALYZER.term, ("ferry", "harbour", "quillet", "absent")):
            ids, weights = term_postings(SegmentCache(), reader, "body", word)
            expected = []
            if ("body", word) in reader:
                matcher = reader.postings("body", word)
                while matcher.is_active():
                    expected.append((matcher.id(), matcher.weight()))
                    matcher.next()
            assert list(zip(ids, weights, strict=True)) == expected, word
        assert (
            len(term_postings(SegmentCache(), reader, "body", TEXT_ANALYZER.term("ferry"))[0]) > 500
        )


def test_did_you_mean_keeps_a_words_bitset_but_not_its_postings(catalogue_app):
    """Whether a live entry holds a word needs only its bitset; its postings, 12 bytes a
    document, would push out what searches use."""
    index = index_of(catalogue_app)
    synonyms = catalogue_app.extensions["kb.search.synonyms"]
    with catalogue_app.app_context(), index.reading() as snapshot:
        suggest(snapshot, "podcast communty", synonyms)
        word = next(iter(SPELLING_ANALYZER("podcast"))).text
        readers = [sub.reader() for sub, _offset in subsearchers(snapshot.searcher)]
        held = [r for r in readers if ("spelling", word) in r]
        assert held
        for reader in held:
            segment = segment_id(reader)
            assert snapshot.segments.get((segment, "term", "spelling", word))
            assert snapshot.segments.get((segment, "postings", "spelling", word)) is None
