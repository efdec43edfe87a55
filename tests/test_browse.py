"""Browsing pages: content, filters checked against direct SQL, sorting, pages and 404s."""

from __future__ import annotations

import itertools
import re

import pytest
from sqlalchemy import text

from kb.entries.queries import EntryFilter, sector_channel_grid
from tests.factories import make_entry, make_organisation

SLUG_LINK = re.compile(r'class="entry-card-title"><a href="/entries/([a-z0-9-]+)"')


def _slugs(client, url: str) -> list[str]:
    """Every entry slug a listing shows, following its pages."""
    slugs, page = [], 1
    while True:
        response = client.get(url + ("&" if "?" in url else "?") + f"page={page}")
        if response.status_code == 404 and page > 1:
            return slugs
        assert response.status_code == 200, url
        found = SLUG_LINK.findall(response.get_data(as_text=True))
        slugs += found
        if 'rel="next"' not in response.get_data(as_text=True):
            return slugs
        page += 1


def _expected(session, sectors=(), channels=(), topics=(), kinds=(), org=None) -> set[str]:
    """The same question asked of the database directly, in plain SQL."""
    sql = "SELECT e.slug FROM entries e JOIN organisations o ON o.id = e.organisation_id "
    sql += "WHERE e.status = 'published'"
    params: dict = {}
    if org:
        sql += " AND o.slug = :org"
        params["org"] = org
    if sectors:
        names = ", ".join(f":s{i}" for i in range(len(sectors)))
        sql += (f" AND (e.origin_sector_id IN (SELECT id FROM sectors WHERE slug IN ({names}))"
                " OR e.id IN (SELECT es.entry_id FROM entry_sectors es JOIN sectors s"
                f" ON s.id = es.sector_id WHERE s.slug IN ({names})))")  # fmt: skip
        params.update({f"s{i}": v for i, v in enumerate(sectors)})
    for table, values, key in (("channel", channels, "c"), ("topic", topics, "t")):
        if values:
            names = ", ".join(f":{key}{i}" for i in range(len(values)))
            sql += (f" AND e.id IN (SELECT l.entry_id FROM entry_{table}s l JOIN {table}s x"
                    f" ON x.id = l.{table}_id WHERE x.slug IN ({names}))")  # fmt: skip
            params.update({f"{key}{i}": v for i, v in enumerate(values)})
    if kinds:
        sql += " AND e.kind IN ({})".format(", ".join(f"'{k}'" for k in kinds))
    return set(session.execute(text(sql), params).scalars())


PAGES = {
    "/": ["What each sector does on each channel", "Browse by sector", "Recently updated"],
    "/sectors": ["Sectors", "Police", "Health", "Fire and rescue"],
    "/sectors/police": ["Police", "Filter entries", "Sort by"],
    "/channels": ["Channels", "X/Twitter", "QR codes"],
    "/channels/qr-codes": ["QR codes", "Filter entries"],
    "/topics": ["Topics", "Emergencies and resilience"],
    "/topics/evaluation": ["Evaluation", "Filter entries"],
    "/orgs": ["Organisations", "Eastmarch Police", "Glenharrow Health Board"],
    "/orgs/eastmarch-police": ["Eastmarch Police", "digital.engagement@eastmarch-police"],
    "/about": ["About Span", "sample catalogue"],
}


@pytest.mark.parametrize("url", PAGES)
def test_page_returns_its_content(client, url):
    response = client.get(url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for phrase in PAGES[url]:
        assert phrase in html
    assert "Sample content." in html


def test_home_invites_a_search_before_writing(client):
    html = client.get("/").get_data(as_text=True)
    assert "Search before you write" in html
    assert 'action="/search"' in html and 'name="q"' in html


FILTER_CASES = [
    ("/sectors/police", dict(sectors=["police"])),
    ("/sectors/health?channel=x-twitter", dict(sectors=["health"], channels=["x-twitter"])),
    ("/sectors/police?channel=x-twitter&channel=qr-codes",
     dict(sectors=["police"], channels=["x-twitter", "qr-codes"])),
    ("/sectors/local-government?kind=guidance",
     dict(sectors=["local-government"], kinds=["guidance"])),
    ("/sectors/health?topic=evaluation&kind=case_study",
     dict(sectors=["health"], topics=["evaluation"], kinds=["case_study"])),
    ("/sectors/fire-and-rescue?channel=sms-text&topic=emergencies-and-resilience&kind=guidance",
     dict(sectors=["fire-and-rescue"], channels=["sms-text"],
          topics=["emergencies-and-resilience"], kinds=["guidance"])),
    ("/channels/facebook?sector=police&sector=housing",
     dict(channels=["facebook"], sectors=["police", "housing"])),
    ("/channels/x-twitter?topic=accessibility",
     dict(channels=["x-twitter"], topics=["accessibility"])),
    ("/topics/security-and-privacy?channel=messaging-apps&kind=guidance",
     dict(topics=["security-and-privacy"], channels=["messaging-apps"], kinds=["guidance"])),
    ("/orgs/strathbeck-council?kind=guidance", dict(org="strathbeck-council", kinds=["guidance"])),
    ("/sectors/education?channel=podcasts", dict(sectors=["education"], channels=["podcasts"])),
]  # fmt: skip


@pytest.mark.parametrize(("url", "query"), FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
def test_filters_return_exactly_the_matching_entries(client, session, url, query):
    shown = _slugs(client, url)
    assert len(shown) == len(set(shown)), "an entry appeared twice"
    assert set(shown) == _expected(session, **query)


def test_every_sector_and_channel_pair_matches_direct_sql(client, session):
    """Exhaustive: every sector × channel filter, as linked from the home page grid."""
    sectors = session.execute(text("SELECT slug FROM sectors")).scalars().all()
    channels = session.execute(text("SELECT slug FROM channels")).scalars().all()
    checked = 0
    for sector, channel in itertools.product(sectors, channels):
        expected = _expected(session, sectors=[sector], channels=[channel])
        assert set(_slugs(client, f"/sectors/{sector}?channel={channel}")) == expected
        checked += bool(expected)
    assert checked >= 20


def test_grid_counts_link_to_lists_of_that_size(client, session):
    html = client.get("/").get_data(as_text=True)
    cells = re.findall(r'href="/sectors/([a-z-]+)\?channel=([a-z-]+)">(\d+)<', html)
    assert len(cells) >= 20
    for sector, channel, count in cells:
        assert len(_expected(session, sectors=[sector], channels=[channel])) == int(count)


def test_home_sector_counts_match_sector_pages(client, session):
    html = client.get("/").get_data(as_text=True)
    cards = re.findall(
        r'href="/sectors/([a-z-]+)">[^<]+</a>\s*<span class="count">(\d+) entr', html
    )
    assert len(cards) == 8
    for sector, count in cards:
        assert len(_expected(session, sectors=[sector])) == int(count)


def test_facet_counts_predict_the_filtered_totals(client):
    html = client.get("/sectors/police").get_data(as_text=True)
    options = re.findall(r'name="channel" value="([a-z-]+)">\s*<label[^>]*>[^<]*'
                         r'<span class="count">\((\d+)\)', html)  # fmt: skip
    assert options
    for channel, count in options:
        assert len(_slugs(client, f"/sectors/police?channel={channel}")) == int(count)


def test_sort_by_title(client, session):
    shown = _slugs(client, "/topics/community-engagement?sort=title")
    titles = dict(session.execute(text("SELECT slug, title FROM entries")).all())
    assert [titles[s].lower() for s in shown] == sorted(titles[s].lower() for s in shown)


def test_sort_newest_first(client, session):
    shown = _slugs(client, "/topics/community-engagement?sort=newest")
    created = dict(session.execute(text("SELECT slug, created_at FROM entries")).all())
    assert [created[s] for s in shown] == sorted((created[s] for s in shown), reverse=True)


def test_pagination_twenty_per_page(catalogue_app, session):
    organisation = make_organisation(session, sector="housing")
    for number in range(25):
        make_entry(session, organisation, title=f"Housing note {number:02}")
    session.commit()
    client = catalogue_app.test_client()
    url = f"/orgs/{organisation.slug}?sort=title"
    first = SLUG_LINK.findall(client.get(url).get_data(as_text=True))
    second_html = client.get(url + "&page=2").get_data(as_text=True)
    second = SLUG_LINK.findall(second_html)
    assert (len(first), len(second)) == (20, 5)
    assert set(first + second) == _expected(session, org=organisation.slug)
    assert "page 2 of 2" in second_html and 'rel="prev"' in second_html
    assert client.get(url + "&page=3").status_code == 404


def test_drafts_and_archived_entries_stay_out_of_listings(catalogue_app, session):
    organisation = make_organisation(session, sector="education")
    make_entry(session, organisation, slug="a-draft", status="draft")
    make_entry(session, organisation, slug="an-archived", status="archived")
    session.commit()
    shown = _slugs(catalogue_app.test_client(), "/sectors/education")
    assert "a-draft" not in shown and "an-archived" not in shown


def test_relevant_sector_lists_entries_from_elsewhere(client, session):
    sql = (
        "SELECT e.slug FROM entries e JOIN entry_sectors es ON es.entry_id = e.id "
        "JOIN sectors s ON s.id = es.sector_id WHERE s.slug = 'police'"
    )
    borrowed = session.execute(text(sql)).scalars().all()
    assert borrowed, "the catalogue should have entries from other sectors marked for police"
    assert set(borrowed) <= set(_slugs(client, "/sectors/police"))


NOT_FOUND = [
    "/sectors/space-agency", "/channels/carrier-pigeon", "/topics/astrology",
    "/orgs/no-such-body", "/entries/no-such-entry", "/sectors/police?channel=carrier-pigeon",
    "/sectors/police?topic=astrology", "/sectors/police?kind=manifesto",
    "/channels/facebook?sector=space-agency", "/sectors/police?sort=random",
    "/sectors/police?page=0", "/sectors/police?page=abc", "/sectors/police?page=99",
    "/orgs/eastmarch-police?channel=nope", "/no/such/page",
]  # fmt: skip


@pytest.mark.parametrize("url", NOT_FOUND)
def test_unknown_slugs_and_filters_are_404(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_grid_service_matches_listing_filter(session):
    from kb.entries.queries import list_entries

    for (sector, channel), count in sector_channel_grid(session).items():
        page = list_entries(session, EntryFilter(sector=(sector,), channel=(channel,)))
        assert page.total == count


def test_filter_links_keep_the_whole_state_in_the_url(client):
    html = client.get("/sectors/police?channel=x-twitter&kind=guidance").get_data(as_text=True)
    # Removing one filter keeps the other.
    assert 'href="/sectors/police?kind=guidance"' in html
    assert 'href="/sectors/police?channel=x-twitter"' in html


def test_empty_listing_offers_clearing_only_when_filtered(catalogue_app, session):
    organisation = make_organisation(session, sector="housing")
    session.commit()
    client = catalogue_app.test_client()
    empty = client.get(f"/orgs/{organisation.slug}").get_data(as_text=True)
    assert "No published entries here yet." in empty and "Clear the filters" not in empty
    filtered = client.get("/sectors/police?channel=podcasts&kind=guidance&topic=accessibility")
    html = filtered.get_data(as_text=True)
    assert filtered.status_code == 200
    assert "No published entries match these filters yet." in html
    assert 'aria-current="page"' not in html.split('class="results"')[1]


def test_organisation_counts_match_their_pages(client, session):
    html = client.get("/orgs").get_data(as_text=True)
    rows = re.findall(
        r'href="/orgs/([a-z-]+)">[^<]+</a>\s*<span class="count">[^<]*?(\d+) entr', html
    )
    assert len(rows) == 13
    for slug, count in rows:
        assert len(_expected(session, org=slug)) == int(count)
