"""How results are scored: BM25F over the text fields, then a gentle lift for entries other
organisations have borrowed or adopted, since reuse is a sign the work travels well."""

from __future__ import annotations

import math

from whoosh.scoring import BM25F

from kb.search.query import ALL_WORDS_SCORE

REUSE_LIFT = 0.15  # one reuse lifts a score by 15%; three by 30%; seven by 45%


def lift(count: int) -> float:
    return 1.0 + REUSE_LIFT * math.log2(1 + count)


class ReuseWeighting(BM25F):
    """BM25F, multiplied by ``lift(borrow_count)``. One instance per searcher: the reused
    documents and their counts are read once, on first use, from that searcher's segments."""

    use_final = True

    def __init__(self) -> None:
        super().__init__()
        self._lifts: dict[int, float] | None = None

    def final(self, searcher, docnum: int, score: float) -> float:
        if self._lifts is None:
            self._lifts = _lifts(searcher.reader())
        # Lift the relevance within its tier, never the tier's constant: all-words matches
        # stay above near misses, and scoring the first tier alone ranks it the same way.
        tier = ALL_WORDS_SCORE if score >= ALL_WORDS_SCORE else 0.0
        return tier + (score - tier) * self._lifts.get(docnum, 1.0)


def _lifts(reader) -> dict[int, float]:
    if ("reuse", "borrowed") not in reader:
        return {}
    counts = reader.column_reader("borrow_count")
    return {
        docnum: lift(counts[docnum])
        for docnum in reader.postings("reuse", "borrowed").all_ids()
        if not reader.is_deleted(docnum)
    }
