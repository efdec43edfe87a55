"""The one-step analyser gives exactly the tokens of Whoosh's five-part chain, however called."""

from __future__ import annotations

import itertools
import json
import pickle
from pathlib import Path

import pytest
from sqlalchemy import select
from whoosh.analysis import CharsetFilter, StemmingAnalyzer
from whoosh.fields import TEXT
from whoosh.support.charset import accent_map

from kb.models import Entry, Revision
from kb.rendering import text_of_html
from kb.search import analysis
from kb.search.analysis import OneStepAnalyzer, OneStepText
from kb.search.schema import TEXT_ANALYZER

CHAIN = StemmingAnalyzer() | CharsetFilter(accent_map)
VECTORS = json.loads((Path(__file__).parent / "data/xss/h5sc_vectors.json").read_text())
ODD = [
    "Café crème, naïve façade; ÉCOLE d'été", "e-mail/e.mail 3.5 x*y a I it's QR-codes",
    "İstanbul ß ﬁnance ＡＢＣ ２０２６ Straße ǅemal ΣΊΣΥΦΟΣ", "  tabs\tand\nnewlines  ", "",
    "...", "the of and a", "the the cat of the hat", "a b c d e f", "to be or not to be",
    "snake_case __init__ _x_ 2024_25 1,000.50 v2.7.5 ***", "O'Neill's rock'n'roll don’t",
    "Ünïcödé ÀÉÎÕÜ ſ ﬀ ﬃ Ǆ", "x" * 5_000, "supercalifragilistic" * 40, "a" * 2 + "é" * 300,
    "running runs ran runner generously sensational relational conditional",
    "Hello\u200bworld zero\u00a0width\ufeffjoin", "\u0661\u0662\u0663 Arabic ١٢٣ digits",
    "emoji 😀 text 👩‍👩‍👧 end", "ＦＵＬＬ ｗｉｄｔｈ", "I İ ı i", "\x00\x01 control \x7f chars",
]  # fmt: skip
# How Whoosh calls a text field's analyser: to index, to parse a query, to highlight.
CALLS = [
    {"positions": positions, "chars": chars, "mode": mode, "removestops": removestops}
    for positions, chars, mode, removestops in itertools.product(
        (False, True), (False, True), ("index", "query", ""), (True, False)
    )
] + [
    {"positions": True, "boosts": True, "mode": "index"},
    {"positions": True, "chars": True, "start_pos": 7, "start_char": 30},
    {"keeporiginal": True, "positions": True},
    {"tokenize": False, "positions": True, "chars": True},
    {"no_morph": True, "positions": True},
]

ATTRIBUTES = ("text", "pos", "startchar", "endchar", "stopped", "boost", "original")


def tokens(analyzer, text: str, call: dict) -> list[dict]:
    return [
        {name: getattr(t, name) for name in ATTRIBUTES if hasattr(t, name)}
        | {"kwargs": sorted(vars(t))}
        for t in analyzer(text, **call)
    ]


def hostile_texts() -> list[str]:
    return [*ODD, *(vector["payload"] for vector in VECTORS), *(v["name"] for v in VECTORS)]


def catalogue_texts(store) -> list[str]:
    bodies = [text_of_html(html) for html in store.scalars(select(Revision.body_html))]
    titles = [t for row in store.execute(select(Entry.title, Entry.summary)) for t in row]
    assert len(bodies) > 40
    return [*bodies, *titles]


def test_the_schema_analyses_text_in_one_step():
    assert isinstance(TEXT_ANALYZER, OneStepAnalyzer)
    assert TEXT_ANALYZER.items == CHAIN.items


def _named(call: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in call.items())


@pytest.mark.parametrize("call", CALLS, ids=_named)
def test_the_same_tokens_as_the_chain_on_every_sample_body_and_hostile_text(store, call):
    for text in [*catalogue_texts(store), *hostile_texts()]:
        assert tokens(TEXT_ANALYZER, text, call) == tokens(CHAIN, text, call), text[:80]


def test_the_same_tokens_once_the_stem_cache_has_been_emptied(monkeypatch, store):
    monkeypatch.setattr(analysis, "STEM_CACHE_WORDS", 5)
    fresh = OneStepAnalyzer()
    call = {"positions": True, "chars": True, "mode": "index"}
    for text in catalogue_texts(store)[:10]:
        assert tokens(fresh, text, call) == tokens(CHAIN, text, call)
    assert len(fresh._stems) <= 5


def test_a_pickled_analyser_as_an_index_keeps_it_still_analyses_in_one_step():
    copy = pickle.loads(pickle.dumps(TEXT_ANALYZER))
    assert type(copy) is OneStepAnalyzer and copy == TEXT_ANALYZER and copy._stems == {}
    text, call = "Flooding warnings for the residents", {"positions": True, "mode": "index"}
    assert tokens(copy, text, call) == tokens(CHAIN, text, call)


@pytest.mark.parametrize("boost", [1.0, 4.0, 1.5])
def test_a_text_field_indexes_the_same_terms_weights_and_positions(store, boost):
    ours = OneStepText(analyzer=TEXT_ANALYZER, field_boost=boost)
    theirs = TEXT(analyzer=CHAIN, field_boost=boost)
    for text in [*catalogue_texts(store), *hostile_texts(), " ".join(hostile_texts())]:
        assert sorted(ours.index(text)) == sorted(theirs.index(text)), text[:80]
