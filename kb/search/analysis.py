"""The text analyser of the index's full-text fields, in one step.

Whoosh's ``StemmingAnalyzer() | CharsetFilter(accent_map)`` is a regular-expression tokenizer
and four filters, each a generator the token passes through. ``OneStepAnalyzer`` holds the same
five parts (so it compares, pickles and highlights like the chain) but walks the text once,
with a plain dictionary in front of the Porter stemmer: the same tokens, in about a third of
the time. Indexing, query parsing and ``kb.search.query.analyse`` all go through it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from whoosh.analysis import CharsetFilter, CompositeAnalyzer, StemmingAnalyzer, Token
from whoosh.analysis.tokenizers import default_pattern
from whoosh.fields import TEXT
from whoosh.formats import Positions
from whoosh.support.charset import accent_map

STOP = object()  # what a stop word stands for in the cache of terms: it is never indexed
WORDS = default_pattern  # Whoosh's words, which StemmingAnalyzer() tokenizes
# The same, without its group, so that ``findall`` returns whole words.
WHOLE_WORDS = re.compile(WORDS.pattern.replace("(", "(?:"), WORDS.flags)
# A word found once in a text is stored with the same few bytes wherever it is: keep those.
ONE_POSITION_CACHED_BELOW = 20_000
# Whoosh's stemmer cache (least-frequently-used, 50,000 words) counts every use and sorts its
# counts each time it fills up; a dictionary emptied when it reaches this size costs neither.
STEM_CACHE_WORDS = 100_000


class OneStepAnalyzer(CompositeAnalyzer):
    """``StemmingAnalyzer() | CharsetFilter(accent_map)``, giving the same tokens in one pass.

    Calls the one-pass path for what Whoosh asks of a text field (index, query, highlight) and
    the chain itself for anything else (``keeporiginal``, ``tokenize=False``, ``no_morph``).
    """

    def __init__(self):
        super().__init__(StemmingAnalyzer(), CharsetFilter(accent_map))
        self._stems: dict[str, str] = {}  # lower-cased word: its stem
        self._terms: dict[str, object] = {}  # lower-cased word: its index term, or STOP

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("_stems", "_terms")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._stems, self._terms = {}, {}

    def __call__(self, value, no_morph=False, **kwargs):
        if no_morph or kwargs.get("keeporiginal") or not kwargs.get("tokenize", True):
            return super().__call__(value, no_morph=no_morph, **kwargs)
        return self._tokens(value, **kwargs)

    def _stem(self, word: str) -> str:
        stems = self._stems
        if len(stems) >= STEM_CACHE_WORDS:
            stems.clear()
        stemmed = stems[word] = self.items[3].stemfn(word)
        return stemmed

    def positions(self, value: str) -> dict[str, list[int]]:
        """Each index term of ``value`` and its positions, as Whoosh indexes a phrase field:
        stop words left out and not counted (each kept word one after the last)."""
        if value.isascii() and self.items[0].expression.pattern == WORDS.pattern:
            # Lower-casing ASCII first changes no match, so the words come out in one call.
            words = WHOLE_WORDS.findall(value.lower())
        else:
            words = [match.group().lower() for match in self.items[0].expression.finditer(value)]
        terms, renumber = self._terms, self.items[2].renumber
        found: dict[str, list[int]] = {}
        kept = None
        for pos, word in enumerate(words):
            term = terms.get(word)
            if term is None:
                term = self._term(word)
            if term is STOP:
                continue
            kept = pos if kept is None or not renumber else kept + 1
            if term in found:
                found[term].append(kept)
            else:
                found[term] = [kept]
        return found

    def term(self, word: str) -> str | None:
        """The index term of a lower-cased word, or None for a stop word (never indexed)."""
        term = self._terms.get(word)
        if term is None:
            term = self._term(word)
        return None if term is STOP else term

    def _term(self, word: str) -> object:
        """The index term of a lower-cased word, or ``STOP``; remembered."""
        _tokenizer, _lower, stop, stem, charset = self.items
        size = len(word)
        if size < stop.min or (stop.max is not None and size > stop.max) or word in stop.stops:
            term = STOP
        else:
            term = word if word in stem.ignore else self._stems.get(word) or self._stem(word)
            if not term.isascii():
                term = term.translate(charset.charmap)
        if len(self._terms) >= STEM_CACHE_WORDS:
            self._terms.clear()
        self._terms[word] = term
        return term

    def _tokens(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        mode: str = "",
        tokenize: bool = True,
        keeporiginal: bool = False,
        **kwargs,
    ) -> Iterator[Token]:
        assert isinstance(value, str), f"{value!r} is not unicode"
        tokenizer, _lower, stop, stem, charset = self.items
        stops, shortest, longest = stop.stops, stop.min, stop.max
        renumber = stop.renumber and positions
        ignore, stems, charmap = stem.ignore, self._stems, charset.charmap
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        kept = None  # the position of the last word kept, when stop words are not counted
        for pos, match in enumerate(tokenizer.expression.finditer(value)):
            word = match.group().lower()
            size = len(word)
            if size < shortest or (longest is not None and size > longest) or word in stops:
                if removestops:
                    continue
                token.stopped = True
                if positions:
                    token.pos = start_pos + pos
            else:
                token.stopped = False
                if positions:
                    kept = start_pos + pos if kept is None or not renumber else kept + 1
                    token.pos = kept
                if word not in ignore:
                    word = stems.get(word) or self._stem(word)
            token.text = word if word.isascii() else word.translate(charmap)
            token.boost = 1.0
            if chars:
                token.startchar = start_char + match.start()
                token.endchar = start_char + match.end()
            yield token


class OneStepText(TEXT):
    """Whoosh's ``TEXT`` field, indexing a text with ``OneStepAnalyzer.positions``: the same
    terms, counts, weights and encoded positions as ``TEXT.index``, without a token object,
    four generators and a dictionary of weights in between."""

    def index(self, value, **kwargs):
        analyzer, form = self.analyzer, self.format
        plain = type(value) is str and type(form) is Positions and not kwargs
        if not plain or not isinstance(analyzer, OneStepAnalyzer):
            yield from super().index(value, **kwargs)
            return
        boost, encode = form.field_boost, form.encode
        for word, positions in analyzer.positions(value).items():
            count = len(positions)
            if count == 1 and positions[0] < ONE_POSITION_CACHED_BELOW:
                encoded = _one_position(positions[0], encode)
            else:
                encoded = encode(positions)
            yield word.encode("utf-8"), count, float(count) * boost, encoded


_ONE_POSITION: dict[int, bytes] = {}


def _one_position(position: int, encode) -> bytes:
    try:
        return _ONE_POSITION[position]
    except KeyError:
        encoded = _ONE_POSITION[position] = encode([position])
        return encoded
