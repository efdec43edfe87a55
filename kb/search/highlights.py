"""Highlighted snippets as data: fragments of (text, matched) pairs. Templates escape the
text and wrap matched pieces in ``<mark>``, which is the only markup search adds."""

from __future__ import annotations

import functools

from whoosh.highlight import ContextFragmenter, Formatter, WholeFragmenter

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


def configure(results) -> None:
    """Snippets of about 200 characters around the matches."""
    results.formatter = SegmentFormatter()
    results.fragmenter = ContextFragmenter(
        maxchars=200, surround=60, charlimit=SNIPPET_FROM_FIRST_CHARS
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
