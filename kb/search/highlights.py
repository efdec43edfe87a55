"""Highlighted snippets as data: fragments of (text, matched) pairs. Templates escape the
text and wrap matched pieces in ``<mark>``, which is the only markup search adds."""

from __future__ import annotations

import functools

from whoosh.analysis import Token
from whoosh.highlight import (
    ContextFragmenter,
    Formatter,
    Highlighter,
    WholeFragmenter,
    top_fragments,
)

from kb.search.schema import TEXT_ANALYZER

Segment = tuple[str, bool]
Snippet = tuple[Segment, ...]


class SegmentFormatter(Formatter):
    """A Whoosh formatter that returns segments instead of a marked-up string."""

    def format_fragment(self, fragment, replace=False) -> Snippet:
        segments: list[Segment] = []
        index, text = fragment.startchar, fragment.text
        for token in sorted(fragment.matches, key=lambda t: (t.startchar, t.startchar - t.endchar)):
            if token.startchar is None or token.startchar < index:
                continue
            if token.startchar > index:
                segments.append((text[index : token.startchar], False))
            segments.append((text[token.startchar : token.endchar], True))
            index = token.endchar
        segments.append((text[index : fragment.endchar], False))
        return tuple(s for s in segments if s[0])

    def format(self, fragments, replace=False) -> tuple[Snippet, ...]:
        return tuple(self.format_fragment(f) for f in fragments)


# Snippets come from the start of a text: analysing a long body in full for every hit cost
# more than the rest of the search together.
SNIPPET_FROM_FIRST_CHARS = 2_000


class QuickHighlighter(Highlighter):
    """Whoosh's highlighter, with the text analysed in one step instead of a chain of five
    filters, each a generator: the same tokens (``quick_tokens``), for a third of the time.
    Highlighting a page's twenty snippets was over half of a search's time."""

    def highlight_hit(self, hitobj, fieldname, text=None, top=3, minscore=1, **_options):
        results = hitobj.results
        field = results.searcher.schema[fieldname]
        if field.analyzer is not TEXT_ANALYZER:
            return super().highlight_hit(hitobj, fieldname, text, top, minscore)
        text = hitobj[fieldname] if text is None else text
        terms = results.query_terms(expand=True, fieldname=fieldname)
        words = frozenset(field.from_bytes(term[1]) for term in terms)
        tokens = quick_tokens(text, words, self.fragmenter.charlimit)
        fragments = self.fragmenter.fragment_tokens(text, self._merge_matched_tokens(tokens))
        best = top_fragments(fragments, top, self.scorer, self.order, minscore=minscore)
        return self.formatter.format(best)


_TOKENIZER, _LOWER, _STOPS, _STEMS, _CHARSET = TEXT_ANALYZER.items


def quick_tokens(text: str, words: frozenset, charlimit: int | None):
    """``TEXT_ANALYZER``'s tokens of ``text`` as Whoosh highlights them (stop words kept and
    marked), each marked matched if it is one of ``words``; up to ``charlimit``. One token
    object is reused, as Whoosh's tokenizers do."""
    stops, shortest, stem, charmap = _STOPS.stops, _STOPS.min, _STEMS._stem, _CHARSET.charmap
    token = Token(positions=True, chars=True, removestops=False, mode="index")
    for position, match in enumerate(_TOKENIZER.expression.finditer(text)):
        start, end = match.span()
        if charlimit and end > charlimit:
            return
        word = match.group().lower()
        stopped = len(word) < shortest or word in stops
        token.text = (word if stopped else stem(word)).translate(charmap)
        token.stopped, token.pos, token.startchar, token.endchar = stopped, position, start, end
        token.matched = token.text in words
        yield token


def configure(results) -> None:
    """Snippets of about 200 characters around the matches."""
    results.highlighter = QuickHighlighter(
        fragmenter=ContextFragmenter(maxchars=200, surround=60, charlimit=SNIPPET_FROM_FIRST_CHARS),
        formatter=SegmentFormatter(),
    )
    # Whoosh works out the query's terms present in the index again for every hit and field
    # it highlights; they are the same for the whole page.
    results.query_terms = functools.cache(results.query_terms)


def snippets(hit, field: str, top: int) -> tuple[Snippet, ...]:
    found = hit.highlights(field, top=top)
    return found if isinstance(found, tuple) else ()


def whole(hit, field: str) -> Snippet | None:
    """``field`` in full with its matches marked, or None if nothing in it matched."""
    results = hit.results
    saved = results.fragmenter
    results.fragmenter = WholeFragmenter()
    try:
        found = snippets(hit, field, top=1)
    finally:
        results.fragmenter = saved
    if not found:
        return None
    return found[0]
