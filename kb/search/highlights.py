"""Highlighted snippets as data: fragments of (text, matched) pairs. Templates escape the
text and wrap matched pieces in ``<mark>``, which is the only markup search adds.

Making a page's twenty snippets through Whoosh's highlighter was over half of a search's
time: it analyses each text anew for every query, a token at a time through five generators.
Here a text is analysed once per process (``analysed``, kept by its content) into plain
arrays, and each query only walks those arrays. The fragments are the ones Whoosh's
``ContextFragmenter`` and ``BasicFragmentScorer`` would choose; a test compares the two.
"""

from __future__ import annotations

import functools
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import accumulate
from typing import NamedTuple

from kb.search.analysis import WHOLE_WORDS
from kb.search.schema import TEXT_ANALYZER

Segment = tuple[str, bool]
Snippet = tuple[Segment, ...]

# Snippets come from the start of a text: analysing a long body in full for every hit cost
# more than the rest of the search together.
SNIPPET_FROM_FIRST_CHARS = 2_000
FRAGMENT_CHARS = 200  # at most this many characters of words in a snippet
SURROUND = 60  # characters of context before the first match and after the last
TEXTS_KEPT = 4_096  # analysed texts kept per process: a few KB each
TERMS_KEPT = 100_000  # words and their terms kept per process, forgotten all at once

_FOLDING = TEXT_ANALYZER.items[-1].charmap  # and folds accents
_terms: dict[str, str] = {}  # lower-cased word -> its term in ``Analysed.terms``


class Analysed(NamedTuple):
    """A text's tokens as three parallel sequences: where each starts and ends, and its term
    (stemmed and folded as the index holds it; stop words as they are, never matched)."""

    starts: array
    ends: array
    terms: tuple[str, ...]


@functools.lru_cache(maxsize=TEXTS_KEPT)
def analysed(text: str) -> Analysed:
    """``text`` analysed as the index analyses it, stop words kept; kept by content, so an
    edited text is simply analysed again. ``lru_cache`` is safe to share between threads.
    Most texts are met for the first time on a large catalogue's pages, so the words, the
    gaps between them and so their places come from the regular expression and the
    built-ins in bulk, not a token at a time."""
    words = WHOLE_WORDS.findall(text)
    lengths = [0] * (2 * len(words))  # each gap before a word, then that word
    lengths[0::2] = map(len, WHOLE_WORDS.split(text)[:-1])
    lengths[1::2] = map(len, words)
    places = array("I", accumulate(lengths))
    get = _terms.get
    terms = tuple([get(word) or _term(word) for word in map(str.lower, words)])
    return Analysed(places[0::2], places[1::2], terms)


def _term(word: str) -> str:
    """A lower-cased word's term, or, for a stop word, the word folded; remembered."""
    term = TEXT_ANALYZER.term(word)
    if not term:  # a stop word: never matched
        term = sys.intern(word if word.isascii() else word.translate(_FOLDING))
    if len(_terms) >= TERMS_KEPT:
        _terms.clear()
    _terms[word] = term
    return term


def _matched(text: Analysed, words: frozenset[str]) -> list[int]:
    """The token numbers of ``text`` whose terms are among ``words``, in order: a search of
    the terms in C for each word, as a text holds few matches of any."""
    terms, found = text.terms, []
    for word in words:
        number = -1
        try:
            while True:
                number = terms.index(word, number + 1)
                found.append(number)
        except ValueError:  # no more of this word
            pass
    return sorted(found)


def snippets(text: str, words: frozenset[str], top: int = 2) -> tuple[Snippet, ...]:
    """Up to ``top`` snippets of about 200 characters around matches of ``words`` in the first
    2,000 characters of ``text``, in the order they come: the passages with the most matches
    of the most different words, as Whoosh's highlighter picks them."""
    if not words or not text:
        return ()
    text = text[:SNIPPET_FROM_FIRST_CHARS]
    fragments = list(_fragments(analysed(text), words))
    best = sorted(fragments, key=lambda f: (_score(f[2]), f[0]), reverse=True)
    return tuple(_segments(text, start, end, matches) for start, end, matches in
                 sorted(best[:top]))  # fmt: skip


def whole(text: str, words: frozenset[str]) -> Snippet | None:
    """``text`` in full with its matches of ``words`` marked, or None if nothing matched."""
    if not words or not text:
        return None
    starts, ends, terms = found = analysed(text)
    matches = [(starts[i], ends[i], terms[i]) for i in _matched(found, words)]
    return _segments(text, 0, len(text), matches) if matches else None


def _fragments(text: Analysed, words: frozenset[str]) -> Iterator[tuple]:
    """Whoosh's ``ContextFragmenter(maxchars=200, surround=60)`` over an analysed text:
    (start, end, [(start, end, term) of each match]) for each fragment holding a match.
    Whoosh walks every word; here a run of words outside any fragment is jumped over."""
    starts, ends, terms = text
    hits = _matched(text, words)
    reach = None  # where a fragment starting at the next match would start (unmatched words)
    first = None  # where the fragment being gathered starts
    countdown = -1  # characters still to take; below zero when not in a fragment
    matches: list[tuple[int, int, str]] = []
    length = 0  # characters of words in the fragment
    i, end = 0, 0
    while i < len(terms):
        start, end, term = starts[i], ends[i], terms[i]
        size, matched = end - start, term in words
        if countdown < 0 and not matched:
            # Whoosh keeps the unmatched words ending within SURROUND of the latest one;
            # only the earliest of them before the next match counts.
            after = bisect_left(hits, i)
            if after == len(hits):
                break
            since, i = i, hits[after]
            k = bisect_left(starts, ends[i - 1] - SURROUND, since, i)
            reach = starts[k] if k < i else None
            continue
        if length + size > FRAGMENT_CHARS:
            countdown = 0
        elif matched:
            countdown = SURROUND
            if first is None:
                if reach is not None:
                    first = reach
                else:
                    first = start
                    countdown += SURROUND
            matches.append((start, end, term))
        if countdown >= 0:
            length += size
            countdown -= size
            if countdown <= 0:
                if matches:
                    yield first, end, matches
                matches, reach, first, length = [], None, None, 0
        i += 1
    if matches:
        yield first, end, matches


def _score(matches: list[tuple[int, int, str]]) -> int:
    """Whoosh's ``BasicFragmentScorer``: matches, times a hundred per different word."""
    return len(matches) * len({term for _, _, term in matches}) * 100


def _segments(text: str, start: int, end: int, matches: Iterable[tuple]) -> Snippet:
    segments: list[Segment] = []
    index = start
    for begin, finish, _ in matches:
        if begin < index:
            continue
        if begin > index:
            segments.append((text[index:begin], False))
        segments.append((text[begin:finish], True))
        index = finish
    segments.append((text[index:end], False))
    return tuple(s for s in segments if s[0])


def query_words(results, field: str) -> frozenset[str]:
    """The words of ``results``' query present in the index for ``field`` (wildcards and
    prefixes expanded), as ``analysed`` gives them: the same for every hit on a page."""
    schema_field = results.searcher.schema[field]
    terms = results.query_terms(expand=True, fieldname=field)
    return frozenset(schema_field.from_bytes(term[1]) for term in terms)
