"""Snippets come from the same tokens Whoosh's analyser gives, found in one step."""

from __future__ import annotations

from sqlalchemy import select

from kb.models import Revision
from kb.rendering import text_of_html
from kb.search.highlights import quick_tokens
from kb.search.schema import TEXT_ANALYZER

ODD = [
    "Café crème, naïve façade; ÉCOLE d'été", "e-mail/e.mail 3.5 x*y a I it's QR-codes",
    "İstanbul ß ﬁnance ＡＢＣ ２０２６", "  tabs\tand\nnewlines  ", "", "...", "the of and a",
]  # fmt: skip


def whoosh_tokens(text: str, words: frozenset) -> list[tuple]:
    tokens = TEXT_ANALYZER(text, positions=True, chars=True, mode="index", removestops=False)
    return [(t.text, t.startchar, t.endchar, t.stopped, t.text in words) for t in tokens]


def quick(text: str, words: frozenset) -> list[tuple]:
    return [(t.text, t.startchar, t.endchar, t.stopped, t.matched)
            for t in quick_tokens(text, words, None)]  # fmt: skip


def test_the_same_tokens_as_whoosh_on_every_body_and_odd_text(store):
    bodies = [text_of_html(html) for html in store.scalars(select(Revision.body_html))]
    words = frozenset({"access", "social", "media", "cafe", "email", "polici", "the"})
    assert len(bodies) > 40
    for text in [*bodies, *ODD]:
        assert quick(text, words) == whoosh_tokens(text, words), text[:80]


def test_tokens_stop_at_the_limit():
    text = "alpha beta gamma delta"
    assert [t.text for t in quick_tokens(text, frozenset(), 10)] == ["alpha", "beta"]
