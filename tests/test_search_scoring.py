"""The top of a results page is the true top: the scores worked out from postings kept per
segment, and Whoosh's own when a query is not made of terms and phrases alone, equal every
match scored in full, lift for reuse included, whatever the segments and deletions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kb.db import db
from kb.models import Entry
from kb.search.postings import matching
from kb.search.query import bounded, build, near_misses, parse
from kb.search.scoring import leaves_of, top
from kb.search.service import Resolver, _top_by_whoosh, bits_with, visible_bits
from tests.search_support import edit, index_of

QUERIES = [
    ("podcast", {}),
    ("community", {}),
    ("social media", {}),
    ("staff training", {}),
    ("winter phone calls", {}),
    ('"social media"', {}),
    ("qr codes", {}),  # a synonym group with phrases
    ("council recruitment", {}),  # a synonym group with phrases, and a word
    ("recruitment -facebook", {}),
    ("accessibility channel:youtube", {}),
    ("training", {"channel": ("facebook", "instagram")}),
    ("community", {"sector": ("police",)}),
    # A common word with a rare one, few documents allowed: each allowed document's weight is
    # looked up in the common word's postings (some hold only the rare word).
    ("social podcast", {"sector": ("fire-and-rescue",)}),
    ("media winter", {"channel": ("youtube",)}),
    ("campaign evaluation", {"channel": ("sms-text",)}),
]


def _top_n(results) -> list[tuple[float, int]]:
    return [(round(score, 6), docnum) for score, docnum in results.top_n]


def _brute_force(snapshot, query, allowed: int, limit: int) -> list[tuple[float, int]]:
    """Every match scored in full by Whoosh, the best ``limit`` of those allowed."""
    every = snapshot.searcher.search(query, limit=None)
    scored = [(round(s, 6), d) for s, d in every.top_n if allowed >> d & 1]
    return sorted(scored, key=lambda pair: (-pair[0], pair[1]))[:limit]


def _check(app, limit: int = 8) -> int:
    index = index_of(app)
    synonyms = app.extensions["kb.search.synonyms"]
    checked = 0
    with app.app_context(), index.reading() as snapshot:
        for typed, selected in QUERIES:
            clauses, _cut = bounded(synonyms.expand(parse(typed)))
            for query in (build(clauses, Resolver(db.session)),
                          near_misses(clauses, Resolver(db.session))):  # fmt: skip
                if query is None:
                    continue
                allowed = matching(snapshot.segments, snapshot.searcher, query)
                allowed &= visible_bits(snapshot, False)
                for facet, values in selected.items():
                    allowed &= bits_with(snapshot, facet, values)
                if not allowed:
                    continue  # a page with nothing allowed is never scored (``_found``)
                expected = _brute_force(snapshot, query, allowed, limit)
                assert leaves_of(query) is not None, typed
                assert _top_n(top(snapshot, query, allowed, limit)) == expected, typed
                assert _top_n(_top_by_whoosh(snapshot.searcher, query, allowed, limit)) == expected
                checked += 1
    return checked


@pytest.mark.parametrize("limit", [1, 3, 8])
def test_the_page_top_is_every_match_scored_in_full(catalogue_app, limit):
    assert _check(catalogue_app, limit) > len(QUERIES)


def test_and_stays_so_after_saves_and_merges(catalogue_app):
    index = index_of(catalogue_app)
    with catalogue_app.app_context():
        ids = db.session.scalars(select(Entry.id).where(Entry.status == "published")).all()
    for n, entry_id in enumerate(ids[:9]):
        with catalogue_app.app_context():
            session = db.session
            entry = session.get(Entry, entry_id)
            edit(session, entry, summary=f"{entry.summary} Community podcast {n}")
            session.commit()
        index.catch_up()
        index.wait_for_merge()
        _check(catalogue_app)


@pytest.mark.parametrize("typed", ["channel:youtube", ""])
def test_queries_without_words_are_left_to_whoosh(catalogue_app, typed):
    with catalogue_app.app_context():
        query = build(bounded(parse(typed))[0], Resolver(db.session))
    assert leaves_of(query) is None
