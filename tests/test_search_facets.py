"""Search facets: every count on /search equals a count asked of the database directly, over
the entries the search found; totals and pages agree with the results."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import bindparam, select, text

from kb.models import Channel, Entry
from tests.factories import make_entry, make_organisation
from tests.web import signed_in

TITLE_LINK = re.compile(r'class="entry-card-title"><a href="/entries/([a-z0-9-]+)"')
RESULTS = re.compile(r'<ol class="entry-list search-results".*?</ol>', re.S)
FACET_COUNT = re.compile(
    r'<label for="f-(sector|channel|topic|kind|organisation)-([a-z0-9_-]+)">[^<]*'
    r'<span class="count">\((\d+)\)</span></label>'
)
TOTAL = re.compile(r'id="results-heading"[^>]*>(\d+) results?\b')

# Each facet as (entry id, value) pairs; a sector is the origin sector or a relevant one.
PAIRS = {
    "sector": "SELECT e.id AS entry_id, s.slug AS value FROM entries e "
    "JOIN sectors s ON s.id = e.origin_sector_id UNION SELECT l.entry_id, s.slug "
    "FROM entry_sectors l JOIN sectors s ON s.id = l.sector_id",
    "channel": "SELECT l.entry_id, c.slug AS value FROM entry_channels l "
    "JOIN channels c ON c.id = l.channel_id",
    "topic": "SELECT l.entry_id, t.slug AS value FROM entry_topics l "
    "JOIN topics t ON t.id = l.topic_id",
    "kind": "SELECT id AS entry_id, kind AS value FROM entries",
    "organisation": "SELECT e.id AS entry_id, o.slug AS value FROM entries e "
    "JOIN organisations o ON o.id = e.organisation_id",
}


def ranked(page_html: str) -> list[str]:
    listing = RESULTS.search(page_html)
    return TITLE_LINK.findall(listing.group(0)) if listing else []


def fetch(client, q: str, selected: dict, **extra) -> tuple[list[str], str, int]:
    """All result slugs across pages, the first page's HTML and the total it states; every
    organisation offered as a filter, so every count can be compared."""
    params = {"q": q, **selected, "more": "organisation", **extra}
    first = client.get("/search", query_string=params)
    assert first.status_code == 200, params
    page_html = first.get_data(as_text=True)
    total = int(TOTAL.search(page_html).group(1))
    slugs, number, html = [], 1, page_html
    while True:
        slugs += ranked(html)
        if 'rel="next"' not in html:
            break
        number += 1
        response = client.get("/search", query_string={**params, "page": number})
        assert response.status_code == 200
        html = response.get_data(as_text=True)
    return slugs, page_html, total


def shown_counts(page_html: str) -> dict[tuple[str, str], int]:
    return {(f, v): int(n) for f, v, n in FACET_COUNT.findall(page_html)}


def ids_of(db, slugs) -> set[int]:
    query = text("SELECT id FROM entries WHERE slug IN :slugs").bindparams(
        bindparam("slugs", expanding=True)
    )
    return set(db.execute(query, {"slugs": list(slugs) or [""]}).scalars())


def having(db, facet: str, values, within: set[int]) -> set[int]:
    """Those of ``within`` holding any of ``values`` in ``facet`` (OR within a facet)."""
    query = text(
        f"SELECT DISTINCT entry_id FROM ({PAIRS[facet]}) AS pairs "
        "WHERE value IN :values AND entry_id IN :ids"
    ).bindparams(bindparam("values", expanding=True), bindparam("ids", expanding=True))
    return set(db.execute(query, {"values": list(values), "ids": list(within) or [0]}).scalars())


def counted(db, facet: str, within: set[int]) -> dict[str, int]:
    query = text(
        f"SELECT value, COUNT(DISTINCT entry_id) FROM ({PAIRS[facet]}) AS pairs "
        "WHERE entry_id IN :ids GROUP BY value"
    ).bindparams(bindparam("ids", expanding=True))
    return dict(db.execute(query, {"ids": list(within) or [0]}).all())


def expected_counts(db, matched: set[int], selected: dict) -> dict[tuple[str, str], int]:
    """What each facet should show: counts over the matches narrowed by every *other* facet's
    choice, values with none left out unless chosen."""
    expected = {}
    for facet in PAIRS:
        pool = set(matched)
        for other, values in selected.items():
            if other != facet:
                pool = having(db, other, values, pool)
        counts = counted(db, facet, pool)
        for value, n in counts.items():
            if n:
                expected[(facet, value)] = n
        for value in selected.get(facet, []):
            expected[(facet, value)] = counts.get(value, 0)
    return expected


CASES = [
    ("", {}),
    ("accessibility", {}),
    ("twitter", {"channel": ["facebook"]}),
    ("", {"channel": ["facebook", "instagram"]}),  # two values in one facet: OR
    ("recruitment", {"sector": ["police"], "kind": ["case_study"]}),  # two facets: AND
    ("accounts", {"sector": ["police", "health"], "topic": ["security-and-privacy"]}),
    ("channel:youtube", {"kind": ["guidance"]}),
    ("social media", {"organisation": ["eastmarch-police", "strathbeck-council"]}),
    ("", {"sector": ["housing"], "channel": ["sms-text", "messaging-apps"],
          "topic": ["community-engagement"]}),
    ("podcast", {"channel": ["qr-codes"]}),  # nothing left: the chosen value shows (0)
]  # fmt: skip


@pytest.mark.parametrize(("q", "selected"), CASES, ids=[f"{q!r}-{s}" for q, s in CASES])
def test_facet_counts_equal_direct_database_counts(client, store, q, selected):
    matched_slugs, _, unfiltered_total = fetch(client, q, {})
    assert len(matched_slugs) == unfiltered_total
    matched = ids_of(store, matched_slugs)
    slugs, page_html, total = fetch(client, q, selected)
    assert shown_counts(page_html) == expected_counts(store, matched, selected)

    final = matched
    for facet, values in selected.items():
        final = having(store, facet, values, final)
    assert len(slugs) == len(set(slugs)) == total
    assert ids_of(store, slugs) == final


def test_each_count_predicts_the_total_when_that_value_is_chosen(client):
    _, page_html, _ = fetch(client, "accessibility", {})
    counts = shown_counts(page_html)
    assert len(counts) >= 20
    for (facet, value), n in counts.items():
        slugs, _, total = fetch(client, "accessibility", {facet: [value]})
        assert total == len(slugs) == n, (facet, value)


def test_a_facets_counts_ignore_its_own_choice(client):
    _, plain, _ = fetch(client, "", {})
    _, chosen, _ = fetch(client, "", {"channel": ["facebook"]})
    plain_channels = {k: n for k, n in shown_counts(plain).items() if k[0] == "channel"}
    chosen_channels = {k: n for k, n in shown_counts(chosen).items() if k[0] == "channel"}
    assert plain_channels == chosen_channels
    assert 'id="f-channel-facebook" name="channel" value="facebook" checked' in chosen


def test_counts_follow_permissions_drafts_and_archived(catalogue_app, member, org, store):
    """A member's counts include their organisation's drafts; archived only when asked."""
    other = make_organisation(store, sector="health")
    common = {"body": "## Context\n\nZephyrine flags.", "topics": ("accessibility",)}
    make_entry(store, org, slug="zeph-published", title="Zephyrine one", **common)
    make_entry(store, org, slug="zeph-draft", title="Zephyrine two", status="draft",
               channels=("podcasts",), **common)  # fmt: skip
    make_entry(store, other, slug="zeph-other-draft", title="Zephyrine three", status="draft",
               **common)  # fmt: skip
    make_entry(store, other, slug="zeph-archived", title="Zephyrine four", status="archived",
               channels=("youtube",), **common)  # fmt: skip
    store.commit()
    reader = signed_in(catalogue_app, member)
    anonymous = catalogue_app.test_client()
    for client, extra, expected in [
        (anonymous, {}, {"zeph-published"}),
        (anonymous, {"archived": "1"}, {"zeph-published", "zeph-archived"}),
        (reader, {}, {"zeph-published", "zeph-draft"}),
        (reader, {"archived": "1"}, {"zeph-published", "zeph-draft", "zeph-archived"}),
    ]:
        slugs, page_html, total = fetch(client, "zephyrine", {}, **extra)
        assert set(slugs) == expected and total == len(expected)
        counts = shown_counts(page_html)
        assert counts == expected_counts(store, ids_of(store, slugs), {})
        assert counts[("topic", "accessibility")] == len(expected)


def test_twenty_results_a_page_and_the_total_across_pages(client, store):
    everything = store.execute(text("SELECT slug FROM entries WHERE status = 'published'"))
    published = set(everything.scalars())
    assert len(published) == 44
    pages = [client.get(f"/search?page={n}").get_data(as_text=True) for n in (1, 2, 3)]
    for number, page in enumerate(pages, start=1):
        assert f"44 results, page {number} of 3" in page
    one, two, three = map(ranked, pages)
    assert (len(one), len(two), len(three)) == (20, 20, 4)
    assert set(one) | set(two) | set(three) == published
    assert len(set(one) | set(two) | set(three)) == 44
    assert '<ol class="entry-list search-results" start="21">' in pages[1]
    assert client.get("/search?page=4").status_code == 404


def test_filtered_pages_keep_the_filters_in_their_links(client):
    url = "/search?q=posting&channel=facebook&sort=newest"
    html = client.get(url).get_data(as_text=True)
    assert "page 1 of 2" in html
    assert 'href="/search?q=posting&amp;channel=facebook&amp;sort=newest&amp;page=2"' in html
    second = client.get(url + "&page=2")
    assert second.status_code == 200 and "page 2 of 2" in second.get_data(as_text=True)


def test_counts_stay_true_after_entries_change(client, store):
    """Re-indexed documents replace the old ones in the cached counts."""
    fetch(client, "", {})  # the searcher, and its cached counts, exist before the change
    gritter = store.scalar(select(Entry).where(Entry.slug == "strathbeck-live-gritter-map"))
    dashboard = store.scalar(
        select(Entry).where(Entry.slug == "neighbourhood-teams-monthly-social-dashboard")
    )
    gritter.status = "archived"
    dashboard.channels.append(store.scalar(select(Channel).where(Channel.slug == "podcasts")))
    store.commit()
    for q in ("", "map", "dashboard"):
        slugs, page_html, _ = fetch(client, q, {})
        assert "strathbeck-live-gritter-map" not in slugs
        assert shown_counts(page_html) == expected_counts(store, ids_of(store, slugs), {})
    _, page_html, _ = fetch(client, "dashboard", {})
    assert shown_counts(page_html)[("channel", "podcasts")] == 1


def organisations_offered(page_html: str) -> list[str]:
    return [value for facet, value, _n in FACET_COUNT.findall(page_html) if facet == "organisation"]


def test_the_busiest_organisations_are_offered_with_a_link_to_every_one(client, store):
    """A long list of organisations is cut to the ten with the most results (a chosen one
    stays, checked); one link shows them all, and applying filters from there keeps them."""
    busy = make_organisation(store, sector="health", name="Aaa Busy Board", slug="busy-board")
    for _ in range(3):
        make_entry(store, busy, summary="Marramgrass dune planting.")
    for n in range(12):
        quiet = make_organisation(
            store, sector="housing", name=f"Quiet Homes {n:02}", slug=f"quiet-homes-{n:02}"
        )
        make_entry(store, quiet, summary="Marramgrass dune planting.")
    store.commit()
    chosen = "quiet-homes-11"  # last by name among those with one result

    page = client.get("/search", query_string={"q": "marramgrass"}).get_data(as_text=True)
    offered = organisations_offered(page)
    assert len(offered) == 10 and offered[0] == busy.slug  # busiest first
    assert ">Show all 13 organisations</a>" in page
    assert TOTAL.search(page).group(1) == "15"  # the total is not cut

    page = client.get("/search", query_string={"q": "marramgrass", "organisation": chosen}).text
    assert len(organisations_offered(page)) == 11 and chosen in organisations_offered(page)
    assert f'value="{chosen}" checked' in page

    every = client.get("/search", query_string={"q": "marramgrass", "more": "organisation"}).text
    assert len(organisations_offered(every)) == 13 and "Show all" not in every
    assert '<input type="hidden" name="more" value="organisation">' in every


def test_no_link_when_every_organisation_is_offered(client):
    page = client.get("/search", query_string={"q": "qr codes"}).get_data(as_text=True)
    assert 0 < len(organisations_offered(page)) <= 10 and "Show all" not in page
