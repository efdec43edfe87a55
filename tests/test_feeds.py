"""Atom feeds: valid Atom, exactly what their pages list (newest first), never a draft, and
304 Not Modified for a reader that already has the latest."""

from __future__ import annotations

import re

import feedparser
import pytest
from sqlalchemy import select

from kb.db import db
from kb.entries.queries import EntryFilter, list_entries
from kb.models import Entry, Organisation, Sector
from tests.editor_support import add_user, entry_data, send, slug_from
from tests.search_support import edit, found
from tests.web import signed_in

STORM = "coastal-storm-evacuation-social-media-response"
_ENTRY_LINK = re.compile(r'href="/entries/([^"/?#]+)"')


def _feed(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert response.mimetype == "application/atom+xml"
    parsed = feedparser.parse(response.data)
    assert parsed.bozo == 0, (url, parsed.get("bozo_exception"))
    return parsed


def _slugs(parsed) -> list[str]:
    return [item.link.rsplit("/entries/", 1)[1] for item in parsed.entries]


def _listed(client, url: str) -> list[str]:
    """The slugs a listing page shows, in order (its entry cards)."""
    page = client.get(url).get_data(as_text=True)
    listing = page.split('class="entry-list', 1)[1] if 'class="entry-list' in page else ""
    return list(dict.fromkeys(_ENTRY_LINK.findall(listing)))


@pytest.mark.parametrize("sector", ["police", "health", "local-government", "fire-and-rescue"])
def test_a_sector_feed_holds_what_its_page_lists(catalogue_app, sector):
    client = catalogue_app.test_client()
    parsed = _feed(client, f"/feeds/sectors/{sector}.atom")
    with catalogue_app.app_context():
        term = db.session.scalar(select(Sector).where(Sector.slug == sector))
        expected = [
            e.slug
            for e in list_entries(
                db.session, EntryFilter(sector=(term.id,)), sort="newest", per_page=50
            ).items
        ]
    assert _slugs(parsed) == expected and expected
    assert _slugs(parsed)[:20] == _listed(client, f"/sectors/{sector}?sort=newest")


def test_a_filtered_listing_feed_keeps_the_page_s_filters(catalogue_app):
    client = catalogue_app.test_client()
    parsed = _feed(client, "/feeds/sectors/police.atom?channel=x-twitter&kind=guidance&sort=title")
    assert _slugs(parsed) == _listed(client, "/sectors/police?channel=x-twitter&kind=guidance")
    assert 0 < len(parsed.entries) < len(_feed(client, "/feeds/sectors/police.atom").entries)


def test_organisation_channel_topic_and_recent_feeds(catalogue_app):
    client = catalogue_app.test_client()
    for url, page in (
        ("/feeds/orgs/eastmarch-police.atom", "/orgs/eastmarch-police"),
        ("/feeds/channels/youtube.atom", "/channels/youtube"),
        ("/feeds/topics/accessibility.atom", "/topics/accessibility"),
    ):
        assert _slugs(_feed(client, url))[:20] == _listed(client, f"{page}?sort=newest")
    recent = _feed(client, "/feeds/recent.atom")
    with catalogue_app.app_context():
        expected = [
            e.slug
            for e in list_entries(db.session, EntryFilter(), sort="updated", per_page=50).items
        ]
    assert _slugs(recent) == expected


def test_a_search_feed_takes_the_search_s_query_string(catalogue_app):
    client = catalogue_app.test_client()
    query = {"q": "social media", "sector": ["police", "health"], "channel": "x-twitter"}
    parsed = _feed(
        client,
        "/search.atom?"
        + "&".join(
            f"{k}={v}" for k, vs in query.items() for v in (vs if isinstance(vs, list) else [vs])
        ),
    )
    expected = found(
        client, "social media", sector=["police", "health"], channel="x-twitter", sort="newest"
    )
    assert _slugs(parsed) == expected[:50] and expected
    assert parsed.feed.link == (
        "http://localhost/search?q=social+media&sector=health&sector=police&channel=x-twitter"
    )


def test_a_search_feed_links_back_with_only_what_search_reads(catalogue_app):
    """Arguments that are also ``url_for``'s own names never reach it (they used to raise)."""
    client = catalogue_app.test_client()
    parsed = _feed(client, "/search.atom?q=police&_method=x&_scheme=y&_anchor=z&endpoint=w")
    assert parsed.feed.link == "http://localhost/search?q=police"


def test_items_carry_what_a_reader_needs(catalogue_app):
    parsed = _feed(catalogue_app.test_client(), "/feeds/sectors/police.atom")
    with catalogue_app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.slug == _slugs(parsed)[0]))
        organisation = entry.organisation.name
        summary, title = entry.summary, entry.title
    item = parsed.entries[0]
    assert (item.title, item.summary, item.author) == (title, summary, organisation)
    assert item.updated_parsed and item.published_parsed
    assert any(tag.term == "police" for tag in item.tags)


def test_an_entry_history_feed_lists_its_revisions_with_their_summaries(catalogue_app):
    slug = "coastal-storm-evacuation-social-media-response"
    with catalogue_app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.slug == slug))
        edit(db.session, entry, summary="Reworded.")
        db.session.commit()
        revisions = entry.current_revision_number
    parsed = _feed(catalogue_app.test_client(), f"/entries/{slug}/history.atom")
    assert len(parsed.entries) == revisions
    assert parsed.entries[0].title.startswith(f"Revision {revisions}:")
    assert parsed.entries[0].summary == "test"  # the edit summary the helper saves with


def test_drafts_never_appear_in_any_feed(catalogue_app, store):
    police = store.scalar(select(Organisation).where(Organisation.slug == "eastmarch-police"))
    editor = signed_in(catalogue_app, add_user(catalogue_app, store, police, role="editor"))
    data = entry_data(
        title="Zanzibarite draft on social media", similar_dismissed="1", channels=["x-twitter"]
    )
    slug = slug_from(send(editor, "/entries/new?kind=guidance", data))
    client = catalogue_app.test_client()
    for url in (
        "/feeds/recent.atom",
        "/feeds/sectors/police.atom",
        "/feeds/orgs/eastmarch-police.atom",
        "/feeds/channels/x-twitter.atom",
        "/search.atom?q=zanzibarite",
    ):
        assert slug not in _slugs(_feed(client, url)), url
        assert slug not in _slugs(_feed(editor, url)), url  # not for its own organisation either
    assert client.get(f"/entries/{slug}/history.atom").status_code == 404
    assert editor.get(f"/entries/{slug}/history.atom").status_code == 404


def test_a_conditional_request_gets_304_until_something_changes(catalogue_app):
    client = catalogue_app.test_client()
    first = client.get("/feeds/sectors/police.atom")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = client.get("/feeds/sectors/police.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data
    since = client.get("/feeds/sectors/police.atom", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    with catalogue_app.app_context():
        newest = db.session.scalar(
            select(Entry).where(Entry.slug == _slugs(feedparser.parse(first.data))[0])
        )
        edit(db.session, newest, summary="A change every reader should fetch.")
        db.session.commit()
    changed = client.get("/feeds/sectors/police.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_pages_with_a_feed_point_to_it(catalogue_app):
    client = catalogue_app.test_client()
    pages = {
        "/sectors/police": "/feeds/sectors/police.atom",
        "/orgs/eastmarch-police": "/feeds/orgs/eastmarch-police.atom",
        "/search?q=podcast": "/search.atom?q=podcast",
        "/": "/feeds/recent.atom",
        f"/entries/{STORM}": f"/entries/{STORM}/history.atom",
    }
    for page, feed in pages.items():
        text = client.get(page).get_data(as_text=True)
        assert '<link rel="alternate" type="application/atom+xml"' in text, page
        assert f'href="{feed}"' in text, page
        assert "Subscribe (Atom)" in text, page


def test_unknown_feeds_are_404(catalogue_app):
    client = catalogue_app.test_client()
    for url in (
        "/feeds/sectors/nowhere.atom",
        "/feeds/widgets/police.atom",
        "/feeds/sectors/police.atom?channel=nope",
        "/search.atom?sector=nowhere",
    ):
        assert client.get(url).status_code == 404, url
