"""The small things a newcomer tripped over: a too-long title named with its limit, a page
past the last one, a filter naming no channel, "Sign in" coming back to the page, "Due for
review" on search results, and a home page that says what Span is for."""

from __future__ import annotations

import html
import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import text

from tests.editor_support import counts, entry_data, send
from tests.factories import TEST_PASSWORD
from tests.web import csrf_token, signed_in


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# A title over 200 characters -------------------------------------------------------------------


def test_a_long_title_is_refused_naming_the_field_and_its_limit(catalogue_app, store, member):
    client = signed_in(catalogue_app, member)
    before = counts(store)
    response = send(client, "/entries/new?kind=guidance", entry_data(title="x" * 201))
    assert response.status_code == 400
    assert "Title must be 200 characters or fewer; it has 201" in _text(response)
    assert counts(store) == before


def test_title_and_summary_have_a_limit_but_no_maxlength_to_cut_pastes(catalogue_app, member):
    page = signed_in(catalogue_app, member).get("/entries/new?kind=guidance").text
    title = re.search(r'<input[^>]*id="title"[^>]*>', page).group(0)
    summary = re.search(r'<textarea[^>]*id="summary"[^>]*>', page).group(0)
    assert 'data-limit="200"' in title and "maxlength" not in title
    assert "data-limit=" in summary and "maxlength" not in summary
    assert "js/counter.js" in page


# Past the last page ----------------------------------------------------------------------------


def test_past_the_last_page_says_how_many_and_links_to_the_last(client, session):
    total = session.execute(text(
        "SELECT COUNT(*) FROM entries WHERE status = 'published' AND (origin_sector_id ="
        " (SELECT id FROM sectors WHERE slug = 'local-government') OR id IN (SELECT entry_id"
        " FROM entry_sectors WHERE sector_id = (SELECT id FROM sectors WHERE slug ="
        " 'local-government')))"
    )).scalar_one()  # fmt: skip
    per_page = client.application.config["ENTRIES_PER_PAGE"]
    pages = -(-total // per_page)
    assert pages > 1
    response = client.get("/sectors/local-government?page=999")
    assert response.status_code == 404
    page = _text(response)
    assert f"There are only {pages} pages here" in page
    assert (
        f'href="/sectors/local-government?page={pages}">Go to the last page, page {pages}' in page
    )
    assert client.get(f"/sectors/local-government?page={pages}").status_code == 200


def test_past_the_only_page_of_search_links_back_to_it(client):
    response = client.get("/search?q=flood+warnings+letters&page=999")
    assert response.status_code == 404
    page = _text(response)
    assert "There is only one page here" in page or "There are only" in page
    assert re.search(r'href="/search\?q=flood\+warnings\+letters(&amp;page=\d+)?"', response.text)


# channel:tiktok --------------------------------------------------------------------------------


def test_a_filter_naming_no_channel_says_so_and_lists_the_channels(client, session):
    page = _text(client.get("/search?q=channel:tiktok"))
    names = session.execute(text("SELECT name FROM channels ORDER BY position")).scalars().all()
    assert f"There is no channel called tiktok. The channels are: {', '.join(names)}." in page


def test_a_known_channel_gets_no_such_message(client):
    assert "There is no channel" not in _text(client.get("/search?q=channel:youtube"))


# Sign in comes back ----------------------------------------------------------------------------


def test_sign_in_carries_the_page_and_comes_back_to_it(catalogue_app, member):
    client = catalogue_app.test_client()
    here = "/sectors/police?channel=x-twitter"
    page = client.get(here).text
    link = html.unescape(re.search(r'href="(/login\?next=[^"]+)">Sign in<', page).group(1))
    assert parse_qs(urlsplit(link).query)["next"] == [here]
    response = client.post(link, data={"csrf_token": csrf_token(client), "email": member.email,
                                       "password": TEST_PASSWORD})  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"] == here


def test_the_sign_in_page_does_not_point_at_itself(client):
    page = client.get("/login").text
    assert re.search(r'href="/login" aria-current="page">Sign in<', page)


# Due for review in search results --------------------------------------------------------------


def test_search_cards_say_due_for_review(client, session):
    today = date.today().isoformat()
    slug, title = session.execute(
        text("SELECT slug, title FROM entries WHERE status = 'published' AND review_by < :today"
             " ORDER BY title LIMIT 1"), {"today": today}
    ).one()  # fmt: skip
    page = client.get("/search", query_string={"q": title}).text
    cards = re.findall(r'<article class="entry-card">.*?</article>', page, re.S)
    (card,) = [card for card in cards if f'href="/entries/{slug}"' in card]
    assert '<span class="badge badge-due">Due for review</span>' in card
    fresh = [card for card in cards if f'href="/entries/{slug}"' not in card]
    assert fresh and not all("badge-due" in card for card in fresh)


# The home page ---------------------------------------------------------------------------------


def test_the_home_page_says_what_a_visitor_can_do_and_counts_the_catalogue(client, session):
    page = _text(client.get("/"))
    heading = re.search(r"<h1>(.*?)</h1>", page, re.S).group(1)
    assert heading != "Span" and "share" in heading.lower()
    lead = re.search(r'<p class="lead">(.*?)</p>', page, re.S).group(1)
    for verb in ("Search", "browse", "borrow"):
        assert verb in lead
    entries, organisations, sectors = session.execute(text(
        "SELECT COUNT(*), COUNT(DISTINCT organisation_id), COUNT(DISTINCT origin_sector_id)"
        " FROM entries WHERE status = 'published'"
    )).one()  # fmt: skip
    assert (f"{entries} published entries from {organisations} organisations in {sectors}"
            " sectors.") in page  # fmt: skip
    assert 'href="/register">Create an account</a> to add what you have learned' in page
