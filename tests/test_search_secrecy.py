"""A draft is invisible through search to everyone outside its organisation: not in results,
totals, facets, "did you mean", nor in the ranking of what they can see.

Drafts are indexed apart, one index per organisation, and searched only by its members, so
the public index's words, counts and statistics are exactly those of what the public may read.
"""

from __future__ import annotations

import re

from kb.accounts.demo import DEMO_PASSWORD
from tests.editor_support import entry_data, slug_from
from tests.search_support import found
from tests.web import csrf_token, signed_in

AUTHOR = "member@eastmarch-police.example"
OUTSIDER = "member@glenharrow-health-board.example"
INVENTED = ("quixotrell", "zembladorf", "plinthwaite")
QUERIES = [
    *INVENTED,
    "quixotrel", "zembladorff", "plinthwait",  # misspelt: no "did you mean" may offer them
    "Quixotrel zembladorf", '"secret pilot"', "operation secret pilot",
    "police", "staff policy", "community forums", "privacy", "evaluation",
    "police sector:police", "channel:community-forums", "topic:security-and-privacy",
]  # fmt: skip
FACETED = [
    {"q": "police", "sector": "police"},
    {"q": "community", "channel": "community-forums"},
    {"q": "", "topic": "security-and-privacy"},
    {"q": "pilot", "organisation": "eastmarch-police"},
    {"q": "police", "sort": "newest"},
    {"q": "police", "sort": "most-borrowed"},
    {"q": "police", "page": "2"},
]
_TOKENS = re.compile(r'name="csrf_token" value="[^"]*"')


def _pages(client) -> list[str]:
    pages = []
    for params in [*({"q": q} for q in QUERIES), *FACETED]:
        response = client.get("/search", query_string=params)
        assert response.status_code == 200, (params, response.status_code)
        # The only byte that may differ is the form token, which is signed with the time.
        pages.append(_TOKENS.sub("", response.get_data(as_text=True)))
    return pages


def test_a_draft_leaves_every_outside_search_byte_identical(catalogue_app):
    anonymous = catalogue_app.test_client()
    outsider = signed_in(catalogue_app, OUTSIDER, DEMO_PASSWORD)
    author = signed_in(catalogue_app, AUTHOR, DEMO_PASSWORD)
    before = {"anonymous": _pages(anonymous), "outsider": _pages(outsider)}

    draft = entry_data(
        title="Operation Quixotrell secret pilot",
        summary="Zembladorf neighbourhood trial of the Plinthwaite channel.",
        body="## Purpose\n\nQuixotrell and zembladorf, plinthwaite plinthwaite police staff.\n",
        channels=["community-forums", "podcasts"], topics=["security-and-privacy"],
        similar_dismissed="1", csrf_token=csrf_token(author, "/entries/new?kind=guidance"),
    )  # fmt: skip
    slug = slug_from(author.post("/entries/new?kind=guidance", data=draft))

    # The author's organisation finds it, and is offered its words when misspelt ...
    assert found(author, "quixotrell") == [slug]
    assert "Did you mean" in author.get("/search?q=quixotrel").get_data(as_text=True)
    # ... nobody else can tell it exists.
    after = {"anonymous": _pages(anonymous), "outsider": _pages(outsider)}
    for who in before:
        for query, old, new in zip([*QUERIES, *FACETED], before[who], after[who], strict=True):
            assert old == new, f"{who}: {query}"
