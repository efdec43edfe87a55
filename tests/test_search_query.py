"""What people type, turned into Whoosh queries: parsing, synonyms, and what the built query
matches in a small real index made with the app's own schema."""

from __future__ import annotations

import pytest
from whoosh import index as whoosh_index

from kb.config import ROOT
from kb.search.query import Clause, Synonyms, build, near_misses, parse
from kb.search.schema import build_schema

SYNONYMS = Synonyms.load(ROOT / "seed_data" / "synonyms.yaml")


def words(*texts: str) -> list[Clause]:
    return [Clause(t) for t in texts]


# parse ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "clauses"),
    [
        ("posting rules", words("posting", "rules")),
        ("  posting\t rules ", words("posting", "rules")),
        ('"live map" gritter', [Clause("live map", phrase=True), Clause("gritter")]),
        ('"live map', [Clause("live map", phrase=True)]),  # unterminated: to the end
        ('gritter "live map', [Clause("gritter"), Clause("live map", phrase=True)]),
        ("-facebook", [Clause("facebook", negated=True)]),
        ('-"dog warden"', [Clause("dog warden", phrase=True, negated=True)]),
        ("well-known e-mail", words("well-known", "e-mail")),  # inner hyphens are no signs
        ("channel:youtube", [Clause("youtube", field="channel")]),
        ("Org:eastmarch-police", [Clause("eastmarch-police", field="organisation")]),
        ('type:"case study"', [Clause("case study", field="kind", phrase=True)]),
        ("-channel:youtube", [Clause("youtube", field="channel", negated=True)]),
        ("title:gritter", [Clause("gritter", field="title")]),
        ("colour:blue", words("colour:blue")),  # not a field: kept as typed, no filter
        ("https://example.org", words("https://example.org")),
        ("posting, rules!? (qr) #hashtag", words("posting", "rules", "qr", "hashtag")),
        ("don't café's", words("don't", "café's")),
        ("channel:", words("channel")),
        ('- "" — ... "  "', []),
        ("", []),
    ],
)
def test_parse(typed, clauses):
    assert parse(typed) == clauses


def test_parse_never_fails_on_odd_input():
    for typed in ['"""', '-"', "::", "a:b:c", "-:x", 'x:"', "\x00 \u200b", "-" * 50, '"' * 7]:
        assert all(clause.text.strip() for clause in parse(typed))


# synonyms ------------------------------------------------------------------------------------

AHP = ("ahp", "ahps", "allied health professional", "allied health professionals")
COUNCIL = ("council", "local authority", "local council")
FIRE = ("fire service", "fire and rescue", "fire and rescue service")


def expanded(typed: str) -> list[Clause]:
    return SYNONYMS.expand(parse(typed))


def test_a_multi_word_synonym_becomes_one_phrase_clause_with_its_group():
    assert expanded("allied health professional guidance") == [
        Clause("allied health professional", phrase=True, alternatives=AHP),
        Clause("guidance"),
    ]
    assert expanded("posts by the Local  Authority") == [
        *words("posts", "by", "the"),
        Clause("Local Authority", phrase=True, alternatives=COUNCIL),
    ]


def test_a_quoted_synonym_phrase_is_expanded_too():
    assert expanded('"local authority" posts') == [
        Clause("local authority", phrase=True, alternatives=COUNCIL),
        Clause("posts"),
    ]
    assert expanded('"health visitors"') == [Clause("health visitors", phrase=True)]


def test_the_longest_synonym_wins():
    assert expanded("fire and rescue service") == [
        Clause("fire and rescue service", phrase=True, alternatives=FIRE)
    ]
    assert expanded("fire and rescue teams") == [
        Clause("fire and rescue", phrase=True, alternatives=FIRE),
        Clause("teams"),
    ]
    group = ("police", "constabulary", "force", "police force")
    assert expanded("police force") == [Clause("police force", phrase=True, alternatives=group)]


def test_single_words_expand_but_filters_and_exclusions_do_not():
    assert expanded("sms") == [Clause("sms", alternatives=("text message", "sms", "texting"))]
    assert expanded("channel:twitter") == [Clause("twitter", field="channel")]


def test_an_excluded_synonym_excludes_its_whole_group():
    assert expanded("-council -posts") == [
        Clause("council", negated=True, alternatives=COUNCIL),
        Clause("posts", negated=True),
    ]
    assert expanded('-"Local Authority"') == [
        Clause("Local Authority", phrase=True, negated=True, alternatives=COUNCIL)
    ]
    assert Synonyms([]).expand(parse("local authority")) == words("local", "authority")


# build, against a real index -----------------------------------------------------------------

DOCS = {
    "both": {"title": "Gritter map", "body": "Where the lorries are tonight."},
    "gritter": {"title": "Gritter gritters gritter", "body": "Gritting gritter rota gritters."},
    "map": {"title": "Live flood map", "body": "Rivers and roads.", "channel": "youtube"},
    "text": {"title": "Text message alerts", "body": "Warnings sent by text message."},
    "council": {"title": "Posting as a local council", "body": "Who signs off posts."},
    "authority": {"title": "Local authority press office", "body": "Posts and replies."},
    "fire": {"title": "Westshire Fire and Rescue on call", "body": "Recruiting crews."},
}


@pytest.fixture(scope="module")
def searcher(tmp_path_factory):
    index = whoosh_index.create_in(str(tmp_path_factory.mktemp("query-index")), build_schema())
    writer = index.writer()
    for key, fields in DOCS.items():
        writer.add_document(id=key, status="published", **fields)
    writer.commit()
    with index.searcher() as searcher:
        yield searcher


def resolve(field: str, value: str) -> list[str]:
    return {("channel", "youtube"): ["youtube"], ("channel", "twitter"): ["x-twitter"]}.get(
        (field, value.lower()), []
    )


def ranked(searcher, typed: str, synonyms: Synonyms = SYNONYMS) -> list[str]:
    query = build(synonyms.expand(parse(typed)), resolve)
    return [hit["id"] for hit in searcher.search(query, limit=None)]


def test_results_hold_every_word_and_near_misses_some(searcher):
    assert ranked(searcher, "gritters map") == ["both"]
    near = near_misses(SYNONYMS.expand(parse("gritters map")), resolve)
    assert {hit["id"] for hit in searcher.search(near, limit=None)} == {"both", "gritter", "map"}
    assert near_misses(parse("gritter"), resolve) is None
    assert near_misses(parse('"flood map"'), resolve) is None
    assert ranked(searcher, "gritter")[0] == "gritter"


def test_phrases_match_words_in_order(searcher):
    assert ranked(searcher, '"flood map"') == ["map"]
    assert ranked(searcher, '"map flood"') == []


def test_exclusions_remove_matches(searcher):
    assert set(ranked(searcher, "gritter")) == {"both", "gritter"}
    assert ranked(searcher, "gritter -lorries") == ["gritter"]
    assert ranked(searcher, 'map -"flood map"') == ["both"]
    assert ranked(searcher, "map -channel:youtube") == ["both"]


def test_field_filters_narrow_and_field_words_search_one_field(searcher):
    assert ranked(searcher, "map channel:youtube") == ["map"]
    assert ranked(searcher, "channel:youtube") == ["map"]
    assert ranked(searcher, "title:rota") == []
    assert ranked(searcher, "body:rota") == ["gritter"]


def test_stop_words_alone_match_nothing_and_no_words_match_everything(searcher):
    assert ranked(searcher, "the") == []
    assert ranked(searcher, "the and of") == []
    assert set(ranked(searcher, "")) == set(DOCS)
    assert set(ranked(searcher, "-gritter")) == set(DOCS) - {"both", "gritter"}


def test_synonyms_find_other_members_of_the_group(searcher):
    assert ranked(searcher, "sms") == ["text"]
    assert ranked(searcher, "sms", Synonyms([])) == []
    assert set(ranked(searcher, '"local authority"')) == {"council", "authority"}
    assert set(ranked(searcher, "council")) == {"council", "authority"}
    assert ranked(searcher, "local authority posts")[0] in {"council", "authority"}
    assert ranked(searcher, "fire service") == ["fire"]  # "fire and rescue", minus "and"
    assert {"council", "authority"} <= set(ranked(searcher, "posts"))
    assert not {"council", "authority"} & set(ranked(searcher, "posts -council"))
    assert not {"council", "authority"} & set(ranked(searcher, 'posts -"local authority"'))
