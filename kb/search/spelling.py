""" "Did you mean": a query's unknown words replaced by the nearest words the index holds.

Looking a word up walks the index's vocabulary, a few milliseconds each; the answer depends
only on the generation being read, so it is kept with that generation and shared by every
searcher of it. A word counts as known only while a live entry holds it: Whoosh keeps the
words of deleted documents until a merge, and an entry moved back to draft must not be
offered through "Did you mean".
"""

from __future__ import annotations

import re

from whoosh.query import Term

from kb.search.postings import matching
from kb.search.query import Synonyms
from kb.search.readers import Snapshot
from kb.search.schema import SPELLING_ANALYZER

_PLAIN_WORD = re.compile(r"(?<![\w:\-\"])([^\W\d_]{3,})(?![\w:])")
SUGGESTED_WORDS = 6  # unknown words looked up per query: each lookup walks the vocabulary
WORDS_KEPT = 5_000  # corrections kept per generation; beyond that, looked up each time


def suggest(snapshot: Snapshot, text: str, synonyms: Synonyms) -> str | None:
    """``text`` with unknown words replaced by the nearest known ones, or None."""
    corrections: dict[str, str] = {}
    looked_up = 0
    outside_quotes = re.sub(r'"[^"]*"?', lambda m: " " * len(m.group()), text)
    for match in _PLAIN_WORD.finditer(outside_quotes):
        word = match.group(1).lower()
        folded = "".join(token.text for token in SPELLING_ANALYZER(word))
        if word in corrections or synonyms.group(word) or not folded:
            continue
        if _held(snapshot, folded):
            continue
        looked_up += 1
        if looked_up > SUGGESTED_WORDS:
            break
        if found := nearest_word(snapshot, folded):
            corrections[word] = found
    if not corrections:
        return None
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, corrections)) + r")\b", re.IGNORECASE)
    return pattern.sub(lambda m: corrections[m.group(1).lower()], text)


def nearest_word(snapshot: Snapshot, folded: str) -> str | None:
    """The known word nearest to ``folded`` (an unknown word as the spelling field holds
    words), or None; kept for the generation ``snapshot`` reads."""
    kept = snapshot.cache.setdefault("spelling", {})
    if folded in kept:
        return kept[folded]
    # Whoosh ranks suggestions by frequency whatever their distance, so look one edit away
    # before two ("podcst" is "podcast", not the commoner "post").
    nearest = None
    for distance in (1, 2):
        # prefix=1: people rarely mistype the first letter, and without it Whoosh compares
        # against the whole vocabulary once the index has several segments.
        found = snapshot.searcher.suggest("spelling", folded, limit=5, maxdist=distance, prefix=1)
        nearest = next((w for w in found if w != folded and _held(snapshot, w)), None)
        if nearest:
            break
    if len(kept) < WORDS_KEPT:
        kept[folded] = nearest
    return nearest


def _held(snapshot: Snapshot, word: str) -> bool:
    """Whether a live entry in ``snapshot`` holds ``word`` (as the spelling field holds it)."""
    return bool(matching(snapshot.segments, snapshot.searcher, Term("spelling", word)))
