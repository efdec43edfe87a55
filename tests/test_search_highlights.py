"""Snippets come from the same tokens Whoosh's own analyser gives, and are the passages
Whoosh's own highlighter would pick."""

from __future__ import annotations

import random
from collections import Counter

from sqlalchemy import select
from whoosh.analysis import CharsetFilter, StemmingAnalyzer
from whoosh.highlight import ContextFragmenter, Formatter, WholeFragmenter, highlight
from whoosh.support.charset import accent_map

from kb.models import Revision
from kb.rendering import text_of_html
from kb.search.highlights import SNIPPET_FROM_FIRST_CHARS, analysed, snippets, whole
from kb.search.schema import TEXT_ANALYZER

CHAIN = StemmingAnalyzer() | CharsetFilter(accent_map)  # Whoosh's own, which the index's matches

ODD = [
    "Café crème, naïve façade; ÉCOLE d'été", "e-mail/e.mail 3.5 x*y a I it's QR-codes",
    "İstanbul ß ﬁnance ＡＢＣ ２０２６", "  tabs\tand\nnewlines  ", "", "...", "the of and a",
]  # fmt: skip


def whoosh_tokens(text: str) -> list[tuple]:
    """Whoosh's own analyser chain's tokens, stop words kept, as (term, start, end)."""
    tokens = CHAIN(text, positions=True, chars=True, mode="index", removestops=False)
    return [(t.text, t.startchar, t.endchar) for t in tokens]


def test_the_same_tokens_as_whoosh_on_every_body_and_odd_text(store):
    bodies = [text_of_html(html) for html in store.scalars(select(Revision.body_html))]
    assert len(bodies) > 40
    for text in [*bodies, *ODD]:
        kept = analysed(text)
        assert list(zip(kept.terms, kept.starts, kept.ends, strict=True)) == whoosh_tokens(text), (
            text[:80]
        )


def test_snippets_come_from_the_first_two_thousand_characters():
    text = "filler " * 300 + "gorse"  # the word starts past character 2,000
    words = frozenset({TEXT_ANALYZER.term("gorse")})
    assert snippets(text, words) == ()
    assert snippets("gorse " + text, words)


class Segments(Formatter):
    """Whoosh's fragments as the segments ``snippets`` returns."""

    def format_fragment(self, fragment, replace=False):
        segments, index, text = [], fragment.startchar, fragment.text
        for token in sorted(fragment.matches, key=lambda t: (t.startchar, t.startchar - t.endchar)):
            if token.startchar < index:
                continue
            if token.startchar > index:
                segments.append((text[index : token.startchar], False))
            segments.append((text[token.startchar : token.endchar], True))
            index = token.endchar
        segments.append((text[index : fragment.endchar], False))
        return tuple(s for s in segments if s[0])

    def format(self, fragments, replace=False):
        return tuple(self.format_fragment(f) for f in fragments)


def whoosh_snippets(text: str, words: frozenset, fragmenter, top: int):
    found = highlight(text, words, CHAIN, fragmenter, Segments(), top=top)
    return found or ()


def word_sets(text: str) -> list[frozenset]:
    """Queries of one to three words a reader might type for ``text``: common words, rare
    ones, a mix, and a word it lacks."""
    counts = Counter(t.text for t in CHAIN(text, mode="index"))
    ranked = [word for word, _ in counts.most_common()]
    picks = [ranked[:1], ranked[:2], ranked[:3], ranked[-1:], ranked[-2:], ranked[1::7][:3]]
    return [frozenset(p) for p in picks if p] + [frozenset({"zzyzx"}), frozenset()]


def random_texts(count: int) -> list[str]:
    """Texts of words from a small vocabulary, some long (past the 60 characters of context,
    one past a whole snippet's 200), so matches fall at every distance from each other."""
    rng = random.Random(16)
    vocabulary = ["police", "tweet", "beat", "nhs", "qr", "code", "the", "a", "of", "council",
                  "x" * 61, "y" * 201, "emergencies", "channel", "fire", "é"]  # fmt: skip
    return [
        " ".join(
            rng.choice(vocabulary) + rng.choice(["", ",", ".", " -"])
            for _ in range(rng.randint(1, 400))
        )  # fmt: skip
        for _ in range(count)
    ]


def test_snippets_are_the_passages_whooshs_highlighter_picks(store):
    bodies = [text_of_html(html) for html in store.scalars(select(Revision.body_html))]
    titles = list(store.scalars(select(Revision.title)))
    analysed.cache_clear()
    compared = 0
    odd = [*ODD, "word " * 1_000, ("alpha beta " * 300) + "gamma", *random_texts(300)]
    for text in [*bodies, *odd]:
        start = text[:SNIPPET_FROM_FIRST_CHARS]
        for words in word_sets(start):
            expected = whoosh_snippets(start, words, ContextFragmenter(200, 60, None), top=2)
            assert snippets(text, words, top=2) == expected, (text[:80], words)
            compared += bool(expected)
    for title in titles:
        for words in word_sets(title):
            expected = whoosh_snippets(title, words, WholeFragmenter(), top=1)
            assert whole(title, words) == (expected[0] if expected else None), (title, words)
    assert compared > 200  # most comparisons had something to show
    assert analysed.cache_info().hits > 0  # each text was analysed once, then reused
