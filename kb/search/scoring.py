"""The top of a results page, scored from postings kept per segment.

Whoosh finds the best-scoring documents by walking every match through a tree of matchers,
several Python calls per posting per field: most of a search's time once the matches
themselves come from bitsets (``postings.py``). When a query is made of terms alone (words in
fields, keyword filters, exclusions), its score for a document is the sum of its terms'
scores, so each term's postings and each field's lengths are read once per segment and kept
(and a word's scores while the index's statistics stay as they are), and a page is scored
from those, only for the documents the page may show. The formula and the statistics are
Whoosh's own (BM25F, then the reuse lift), so the page is the one Whoosh would give, up to
the rounding of sums. Phrases and anything else go to Whoosh.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator

from whoosh import query as Q
from whoosh.searching import Results

from kb.search.postings import (
    members,
    segment_id,
    segment_matches,
    subsearchers,
    term_postings,
)
from kb.search.readers import Snapshot

Leaf = tuple[Q.Term, Q.Phrase | None]  # a term, and the phrase it must be part of, if any


def leaves_of(query: Q.Query, within_or: bool = False) -> list[Leaf] | None:
    """The terms whose scores add up to ``query``'s score for a document it matches, each
    with the phrase that must match for it to count; None if ``query`` holds anything but
    terms, phrases, AND, OR and exclusions (which score nothing), or an AND inside an OR
    (whose terms would count only where all of them match)."""
    if isinstance(query, Q.Term):
        return [(query, None)]
    if isinstance(query, Q.Phrase) and query.boost == 1:
        return [(Q.Term(query.fieldname, word), query) for word in query.words]
    if isinstance(query, Q.And | Q.Or) and not (within_or and isinstance(query, Q.And)):
        found: list[Leaf] = []
        for part in query.subqueries:
            leaves = leaves_of(part, within_or or isinstance(query, Q.Or))
            if leaves is None:
                return None
            found += leaves
        return found
    if isinstance(query, Q.AndNot):
        return leaves_of(query.a, within_or)
    return None


def top(snapshot: Snapshot, query: Q.Query, allowed: int, limit: int) -> Results | None:
    """Whoosh's results for the ``limit`` best of the documents in ``allowed`` (each of which
    matches ``query``), or None when ``query`` is not made of terms and phrases alone."""
    leaves = leaves_of(query)
    if leaves is None:
        return None
    searcher = snapshot.searcher
    weighting = searcher.weighting
    scores: dict[int, float] = {}
    for sub, offset in subsearchers(searcher):
        reader = sub.reader()
        count = reader.doc_count_all()
        local = allowed >> offset & ((1 << count) - 1) if count else 0
        if not local:
            continue
        wanted = set(members(local))
        segment = segment_id(reader)
        found: dict[int, float] = {}  # this segment's scores, by its own document numbers
        get = found.get
        for term, phrase in leaves:
            counted = wanted
            if phrase is not None:
                counted = wanted & set(
                    members(segment_matches(snapshot.segments, sub, reader, segment, phrase))
                )
            for docnum, score in _term_scores(snapshot, searcher, reader, term, counted):
                found[docnum] = get(docnum, 0.0) + score
        if offset:
            scores.update(zip(map(offset.__add__, found.keys()), found.values(), strict=True))
        else:
            scores.update(found)
    # Highest score first, then the lower document number, as Whoosh orders them. Rounded:
    # sums in another order differ in the last bits, which would break ties at random.
    # Only reused entries are lifted (by at least 1), so the page is among the best unlifted
    # scores and the reused entries: the lift is worked out for those alone.
    lifts = weighting.lifts(searcher)
    unlifted = heapq.nsmallest(limit, ((-round(s, 9), n) for n, s in _best(scores, limit)))
    candidates = {n for _, n in unlifted} | (lifts.keys() & scores.keys())
    best = heapq.nsmallest(
        limit, ((-round(scores[n] * lifts.get(n, 1.0), 9), n) for n in candidates)
    )
    return Results(searcher, query, [(-score, docnum) for score, docnum in best])


def _counted(ids: array, weights: array, counted: set[int]) -> Iterable[tuple[int, float]]:
    """(document, weight) for the documents of a term's postings that are in ``counted``:
    walking the postings, or, when far fewer documents are counted (a word common in the
    catalogue, in a query of rarer ones), looking each of them up in them."""
    if len(counted) * 8 >= len(ids):
        return ((d, w) for d, w in zip(ids, weights, strict=True) if d in counted)
    found = ((d, bisect_left(ids, d)) for d in sorted(counted))
    return ((d, weights[i]) for d, i in found if i < len(ids) and ids[i] == d)


def _term_scores(
    snapshot: Snapshot, searcher, reader, term: Q.Term, counted: set[int]
) -> Iterable[tuple[int, float]]:
    """(document, score) for the documents of ``term``'s postings in one segment that are
    in ``counted``. For a text field, the score is Whoosh's BM25F; for a keyword filter, the
    weight, as Whoosh scores it."""
    field = term.fieldname
    ids, weights = term_postings(snapshot.segments, reader, field, term.text)
    if not searcher.schema[field].scorable:
        return _counted(ids, weights, counted)
    idf = searcher.idf(field, term.text)
    average = searcher.avg_field_length(field) or 1
    lengths = _lengths(snapshot, reader, field)
    if len(counted) * 8 < len(ids):  # a common word among rarer ones: score the few counted
        return _bm25(
            searcher.weighting, field, idf, average, lengths, _counted(ids, weights, counted)
        )
    # Each posting's score, kept while the index's statistics stay as they are: the same
    # words come back in query after query, and working them out was a tenth of a page.
    # An array beside the postings: a dictionary (to intersect with) took eight times the
    # memory, and at 50,000 entries kept scores pushed each other out of the cache, which
    # made the slowest searches four times slower.
    key = (segment_id(reader), "scores", field, term.text, idf, average)
    scored = snapshot.segments.get(key)
    if scored is None:
        postings = zip(ids, weights, strict=True)
        scored = array(
            "d", (s for _d, s in _bm25(searcher.weighting, field, idf, average, lengths, postings))
        )
        snapshot.segments.put(key, scored, 64 + 8 * len(scored))
    return ((d, s) for d, s in zip(ids, scored, strict=True) if d in counted)


def _bm25(
    weighting, field: str, idf: float, average: float, lengths: array, postings: Iterable
) -> Iterator[tuple[int, float]]:
    """(document, score) for each (document, weight) of ``postings`` of a word of ``idf`` in
    ``field``: Whoosh's ``scoring.bm25`` written out, its operations in its order, so each
    score is Whoosh's to the last bit."""
    b = weighting._field_B.get(field, weighting.B)
    k1 = weighting.K1
    k1_plus_1, one_minus_b = k1 + 1, 1 - b
    return (
        (d, idf * ((tf * k1_plus_1) / (tf + k1 * (one_minus_b + b * lengths[d] / average))))
        for d, tf in postings
    )


def _best(scores: dict[int, float], limit: int) -> Iterable[tuple[int, float]]:
    """The (document, score) pairs that can be among the ``limit`` best once scores are
    rounded: those within a rounding step of the ``limit``-th best score. Rounding and
    ordering thousands of scores one by one was a quarter of scoring a page."""
    if len(scores) <= limit:
        return scores.items()
    bound = heapq.nlargest(limit, scores.values())[-1] - 1e-8
    return [(n, s) for n, s in scores.items() if s >= bound]


def _lengths(snapshot: Snapshot, reader, field: str) -> array:
    """Each document's length in ``field`` in one segment, as Whoosh stores it."""
    key = (segment_id(reader), "lengths", field)
    found = snapshot.segments.get(key)
    if found is None:
        found = array(
            "I", (reader.doc_field_length(d, field) or 0 for d in range(reader.doc_count_all()))
        )
        snapshot.segments.put(key, found, 64 + 4 * len(found))
    return found
