"""A search's results are the entries holding every word: the total and each facet count
equal counts made directly from the database rows, analysed as the index analyses them.
Entries holding only some of the words are listed apart, as partial matches, exactly when the
results do not fill a page; never an entry that holds every word, never a draft for a reader
who may not see it. Saved searches and a search's feed find what the page counts."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import aliased

from kb.db import db
from kb.models import Channel, Entry, Kind, Organisation, Revision, Sector, Topic
from kb.models.entry import entry_channels, entry_sectors, entry_topics
from kb.rendering import text_of_html
from kb.search.matching import matching_searches
from kb.search.query import analyse
from kb.search.service import SearchRequest, search
from tests.factories import make_entry
from tests.search_support import index_of
from tests.test_search_facets import expected_counts, fetch, having, ids_of, shown_counts
from tests.web import signed_in

PARTIAL = re.compile(r'<section class="partial-matches".*?</section>', re.S)
RESULTS = re.compile(r'<ol class="entry-list search-results".*?</ol>', re.S)
TITLE_LINK = re.compile(r'class="entry-card-title"><a href="/entries/([a-z0-9-]+)"')
SYNONYMS = {"council": ["council", "local authority", "local council"]}


def _names(session, link, model) -> dict[int, list[str]]:
    column = link.c[f"{model.__name__.lower()}_id"]
    found: dict[int, list[str]] = {}
    for entry_id, name in session.execute(
        select(link.c.entry_id, model.name).join(model, model.id == column)
    ):
        found.setdefault(entry_id, []).append(name)
    return found


def analysed_fields(session, statuses=("published",)) -> dict[int, list[list[str]]]:
    """Each entry's searchable fields (title, summary, body, organisation, tags), each as the
    index's analyser turns it into terms, straight from the database rows."""
    origin = aliased(Sector)
    rows = session.execute(
        select(Entry.id, Entry.title, Entry.summary, Revision.body_html, Organisation.name,
               Entry.kind, origin.name)
        .join(Organisation, Organisation.id == Entry.organisation_id)
        .join(origin, origin.id == Entry.origin_sector_id)
        .join(Revision, (Revision.entry_id == Entry.id)
              & (Revision.number == Entry.current_revision_number))
        .where(Entry.status.in_(statuses))
    )  # fmt: skip
    links = [_names(session, entry_sectors, Sector), _names(session, entry_channels, Channel),
             _names(session, entry_topics, Topic)]  # fmt: skip
    found = {}
    for entry_id, title, summary, body_html, organisation, kind, sector in rows:
        tags = [Kind(kind).label, sector, *(n for names in links for n in names.get(entry_id, []))]
        texts = [title, summary, text_of_html(body_html or ""), organisation, " ".join(tags)]
        found[entry_id] = [analyse(text) for text in texts]
    return found


def _holds(fields: list[list[str]], words: str) -> bool:
    """Whether one field holds ``words``' terms next to each other (one term: anywhere)."""
    terms = analyse(words)
    return any(terms == field[i : i + len(terms)] for field in fields for i in range(len(field)))


def _clause(fields, word: str) -> bool:
    return any(_holds(fields, member) for member in SYNONYMS.get(word, [word]))


def expected(session, words: list[str], excluded=(), statuses=("published",)):
    """(entries holding every word, entries holding some but not all), neither holding an
    excluded word."""
    every, some = set(), set()
    for entry_id, fields in analysed_fields(session, statuses).items():
        if any(_clause(fields, word) for word in excluded):
            continue
        held = [_clause(fields, word) for word in words]
        if all(held):
            every.add(entry_id)
        elif any(held):
            some.add(entry_id)
    return every, some


def slugs_of(html: str, pattern: re.Pattern) -> list[str]:
    found = pattern.search(html)
    return TITLE_LINK.findall(found.group(0)) if found else []


# (typed, words that must all be held, excluded words, facets ticked)
CASES = [
    ("accessibility", ["accessibility"], [], {}),
    ("social media", ["social", "media"], [], {}),
    ("winter phone calls", ["winter", "phone", "calls"], [], {}),
    ("community safety campaign", ["community", "safety", "campaign"], [], {}),
    ("staff training", ["staff", "training"], [], {"sector": ["police", "health"]}),
    ("posts accessible", ["posts", "accessible"], [], {"channel": ["facebook"]}),
    ("staff training -police", ["staff", "training"], ["police"], {}),
    ("council recruitment", ["council", "recruitment"], [], {}),
    ("council staff policy", ["council", "staff", "policy"], [], {}),
]  # fmt: skip


@pytest.mark.parametrize(("typed", "words", "excluded", "selected"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_total_and_facet_counts_are_of_entries_holding_every_word(
    client, store, typed, words, excluded, selected
):
    every, _some = expected(store, words, excluded)
    assert every, "each case should find something"
    slugs, page_html, total = fetch(client, typed, {})
    assert len(slugs) == len(set(slugs)) == total == len(every)
    assert ids_of(store, slugs) == every
    assert shown_counts(page_html) == expected_counts(store, every, {})
    if selected:
        slugs, page_html, total = fetch(client, typed, selected)
        final = every
        for facet, values in selected.items():
            final = having(store, facet, values, final)
        assert ids_of(store, slugs) == final and total == len(final)
        assert shown_counts(page_html) == expected_counts(store, every, selected)


@pytest.fixture
def per_page_5(catalogue_app):
    catalogue_app.config["SEARCH_RESULTS_PER_PAGE"] = 5
    return 5


@pytest.mark.parametrize(("typed", "words", "excluded", "selected"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_partial_matches_fill_the_page_only_when_the_results_do_not(
    client, store, per_page_5, typed, words, excluded, selected
):
    every, some = expected(store, words, excluded)
    if selected:
        for facet, values in selected.items():
            every, some = having(store, facet, values, every), having(store, facet, values, some)
    params = {"q": typed, **selected}
    html = client.get("/search", query_string=params).get_data(as_text=True)
    partial = ids_of(store, slugs_of(html, PARTIAL))
    if len(words) > 1 and len(every) < per_page_5 and some:
        assert len(partial) == min(len(some), per_page_5 - len(every))
        assert partial <= some
        assert '<h3 id="partial-heading">Partial matches</h3>' in html
    else:
        assert "Partial matches" not in html and not partial
    # Never on a later page, nor with another sort's page past the first.
    if len(every) > per_page_5:
        later = client.get("/search", query_string={**params, "page": 2}).get_data(as_text=True)
        assert "Partial matches" not in later


def test_partial_matches_keep_the_sort_and_never_hold_every_word(client, store, per_page_5):
    every, some = expected(store, ["gritter", "podcast"])
    assert not every and len(some) > 1
    for sort in ("relevance", "newest", "most-borrowed"):
        html = client.get("/search", query_string={"q": "gritter podcast", "sort": sort}).text
        assert slugs_of(html, RESULTS) == []
        shown = ids_of(store, slugs_of(html, PARTIAL))
        assert shown <= some and len(shown) == min(len(some), per_page_5)
        assert ">0 results for" in html and "no entry has all of these words" in html


def test_no_partial_matches_for_one_word_a_phrase_or_filters_alone(client, per_page_5):
    for params in ({"q": "gritter"}, {"q": '"social media policy"'},
                   {"q": "", "channel": "qr-codes"}, {"q": "channel:youtube"}):  # fmt: skip
        html = client.get("/search", query_string=params).get_data(as_text=True)
        assert "Partial matches" not in html, params


def test_partial_matches_never_show_a_draft_to_a_reader_who_may_not_see_it(
    catalogue_app, store, member, org
):
    make_entry(store, org, slug="zq-draft", title="Zanzibar quokka plan", status="draft")
    make_entry(store, org, slug="zq-public", title="Zanzibar briefing")
    make_entry(store, org, slug="zq-draft-one", title="Quokka notes", status="draft")
    store.commit()
    index_of(catalogue_app).catch_up()
    params = {"q": "zanzibar quokka"}
    anonymous = catalogue_app.test_client().get("/search", query_string=params).text
    assert slugs_of(anonymous, RESULTS) == [] and slugs_of(anonymous, PARTIAL) == ["zq-public"]
    assert "zq-draft" not in anonymous
    own = signed_in(catalogue_app, member).get("/search", query_string=params).text
    assert slugs_of(own, RESULTS) == ["zq-draft"]
    assert sorted(slugs_of(own, PARTIAL)) == ["zq-draft-one", "zq-public"]


def test_saved_searches_and_the_feed_find_only_entries_with_every_word(catalogue_app, store, org):
    both = make_entry(store, org, slug="zq-both", title="Zanzibar quokka census")
    one = make_entry(store, org, slug="zq-one", title="Zanzibar ferry timetable")
    store.commit()
    index_of(catalogue_app).catch_up()
    synonyms = catalogue_app.extensions["kb.search.synonyms"]
    saved = ["q=zanzibar+quokka", "q=zanzibar"]
    with catalogue_app.app_context():
        assert matching_searches(db.session, both.id, saved, synonyms) == set(saved)
        assert matching_searches(db.session, one.id, saved, synonyms) == {"q=zanzibar"}
        found = search(index_of(catalogue_app), db.session, SearchRequest("zanzibar quokka"),
                       synonyms)  # fmt: skip
        assert [hit.entry.id for hit in found.hits] == [both.id] and found.total == 1
        assert [hit.entry.id for hit in found.partial] == [one.id]
    feed = catalogue_app.test_client().get("/search.atom?q=zanzibar+quokka").text
    assert "/entries/zq-both" in feed and "/entries/zq-one" not in html_lib.unescape(feed)
