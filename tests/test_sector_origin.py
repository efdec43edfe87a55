"""Sector pages say where each entry comes from: "From <sector>" on every card, "Also relevant
to <this sector>" on the ones from elsewhere, a filter between the two, and home page counts
that say which they count. Every count equals the list it links to, checked in plain SQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from tests.test_browse import _slugs

CARD = re.compile(r'<article class="entry-card">.*?</article>', re.S)


def _origin_sql(session, sector: str, origin: str | None = None, channel: str | None = None):
    """Published entries on ``sector``'s page: from it, relevant to it, or both."""
    own = "e.origin_sector_id = (SELECT id FROM sectors WHERE slug = :sector)"
    relevant = ("e.id IN (SELECT es.entry_id FROM entry_sectors es JOIN sectors s"
                " ON s.id = es.sector_id WHERE s.slug = :sector)")  # fmt: skip
    where = {None: f"({own} OR {relevant})", "this-sector": own,
             "also-relevant": f"{relevant} AND NOT {own}"}[origin]  # fmt: skip
    sql = f"SELECT e.slug FROM entries e WHERE e.status = 'published' AND {where}"
    if channel:
        sql += (" AND e.id IN (SELECT l.entry_id FROM entry_channels l JOIN channels c"
                " ON c.id = l.channel_id WHERE c.slug = :channel)")  # fmt: skip
    return set(session.execute(text(sql), {"sector": sector, "channel": channel}).scalars())


def _origins(session) -> dict[str, str]:
    sql = "SELECT e.slug, s.name FROM entries e JOIN sectors s ON s.id = e.origin_sector_id"
    return dict(session.execute(text(sql)).all())


def test_cards_say_where_each_entry_comes_from(client, session):
    html = client.get("/sectors/local-government?channel=x-twitter").get_data(as_text=True)
    origins = _origins(session)
    cards = CARD.findall(html)
    assert len(cards) == 20
    elsewhere = 0
    for card in cards:
        slug = re.search(r'href="/entries/([a-z0-9-]+)"', card).group(1)
        assert f"From {origins[slug]}<" in card
        relevant = "Also relevant to Local government" in card
        assert relevant == (origins[slug] != "Local government"), slug
        elsewhere += relevant
    assert elsewhere, "the catalogue has entries from elsewhere on this page"


@pytest.mark.parametrize("origin", ["this-sector", "also-relevant"])
@pytest.mark.parametrize("sector", ["local-government", "health", "police"])
def test_filter_lists_exactly_the_entries_from_the_sector_or_relevant_to_it(
    client, session, sector, origin
):
    shown = _slugs(client, f"/sectors/{sector}?origin={origin}")
    assert len(shown) == len(set(shown))
    assert set(shown) == _origin_sql(session, sector, origin)


def test_choosing_both_is_everything(client, session):
    shown = _slugs(client, "/sectors/health?origin=this-sector&origin=also-relevant")
    assert set(shown) == _origin_sql(session, "health")


def test_origin_counts_predict_the_filtered_lists(client, session):
    html = client.get("/sectors/local-government?channel=x-twitter").get_data(as_text=True)
    counts = dict(re.findall(r'name="origin" value="([a-z-]+)">\s*<label[^>]*>[^<]*'
                             r'<span class="count">\((\d+)\)', html))  # fmt: skip
    assert set(counts) == {"this-sector", "also-relevant"}
    for origin, count in counts.items():
        expected = _origin_sql(session, "local-government", origin, channel="x-twitter")
        assert len(expected) == int(count)
        url = f"/sectors/local-government?channel=x-twitter&origin={origin}"
        assert set(_slugs(client, url)) == expected


def test_home_counts_say_what_they_count_and_match_their_lists(client, session):
    html = client.get("/").get_data(as_text=True)
    splits = re.findall(
        r'href="/sectors/([a-z-]+)\?origin=(this-sector|also-relevant)">(\d+) from ([^<]+)<', html
    )
    assert len(splits) >= 12
    names = dict(session.execute(text("SELECT slug, name FROM sectors")).all())
    for sector, origin, count, words in splits:
        assert words == (names[sector] if origin == "this-sector" else "other sectors")
        assert len(_origin_sql(session, sector, origin)) == int(count), (sector, origin)
    assert "from the sector or relevant to it" in html


def test_unknown_origin_is_404(client):
    assert client.get("/sectors/police?origin=elsewhere").status_code == 404


def test_origin_is_offered_only_on_sector_pages(client):
    assert 'name="origin"' not in client.get("/channels/x-twitter").get_data(as_text=True)
    assert client.get("/channels/x-twitter?origin=this-sector").status_code == 200
