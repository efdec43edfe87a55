"""How results are scored: BM25F over the text fields, then a gentle lift for entries other
organisations have borrowed or adopted, since reuse is a sign the work travels well."""

from __future__ import annotations

import math

from whoosh.scoring import BM25F

from kb.search.integrity import IndexDamaged

REUSE_LIFT = 0.15  # one reuse lifts a score by 15%; three by 30%; seven by 45%


def lift(count: int) -> float:
    """The factor for an entry reused ``count`` times (never below zero: a count read below
    one for a reused entry is refused as damage, see ``_lifts``)."""
    return 1.0 + REUSE_LIFT * math.log2(1 + count)


class ReuseWeighting(BM25F):
    """BM25F, multiplied by ``lift(borrow_count)``. One instance per searcher: the reused
    documents and their counts are read once per reader, on first use.

    Whoosh calls ``final`` with the whole index's searcher and document numbers when it
    collects by score, but with one segment's searcher and that segment's numbers when it
    sorts by score (the "most borrowed" sort's tie-break), so lifts are kept per reader."""

    use_final = True

    def __init__(self) -> None:
        super().__init__()
        # Keyed by id(): the readers live as long as the searcher that owns this weighting.
        self._lifts: dict[int, dict[int, float]] = {}

    def final(self, searcher, docnum: int, score: float) -> float:
        return score * self.lifts(searcher).get(docnum, 1.0)

    def lifts(self, searcher) -> dict[int, float]:
        """The lift of each reused document ``searcher`` reads; any other is lifted by 1."""
        reader = searcher.reader()
        lifts = self._lifts.get(id(reader))
        if lifts is None:
            lifts = self._lifts[id(reader)] = _lifts(reader)
        return lifts


def _lifts(reader) -> dict[int, float]:
    """The lift of each live reused document of ``reader``. Raises ``IndexDamaged`` for a
    count that cannot be: the search is then refused as from a damaged index (and the index
    rebuilt) rather than answered with silently wrong lifts, orders and counts."""
    if ("reuse", "borrowed") not in reader:
        return {}
    counts = reader.column_reader("borrow_count")
    lifts = {}
    for docnum in reader.postings("reuse", "borrowed").all_ids():
        if not reader.is_deleted(docnum):
            count = counts[docnum]
            if count < 1:  # the index says "borrowed": a count below one is a misread file
                raise IndexDamaged(f"document {docnum} reads a reuse count of {count}")
            lifts[docnum] = lift(count)
    return lifts
