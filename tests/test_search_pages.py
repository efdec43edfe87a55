"""Search pages: who sees what, safe highlighting, odd input, no-results help, state in the
URL, search boxes, similar entries while writing, related entries, and a fresh index."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select, text

from kb.models import Entry
from tests.editor_support import Page, add_user, counts, entry_data, send
from tests.factories import make_entry, make_organisation
from tests.web import signed_in

RESULTS = re.compile(r'<ol class="entry-list search-results".*?</ol>', re.S)
TITLE_LINK = re.compile(r'class="entry-card-title"><a href="/entries/([a-z0-9-]+)"')


def ranked(page: str) -> list[str]:
    listing = RESULTS.search(page)
    return TITLE_LINK.findall(listing.group(0)) if listing else []


def search(client, **params) -> str:
    response = client.get("/search", query_string=params)
    assert response.status_code == 200, params
    return response.get_data(as_text=True)


@pytest.fixture
def quillwort(store, org):
    """A published, a draft and an archived entry of ``org``, and a draft of another body."""
    other = make_organisation(store, sector="health", name="Elsewhere Health")
    body = {"body": "## Context\n\nQuillwort meadows."}
    make_entry(store, org, slug="qw-published", title="Quillwort published", **body)
    make_entry(store, org, slug="qw-draft", title="Quillwort draft", status="draft", **body)
    make_entry(store, org, slug="qw-archived", title="Quillwort archived", status="archived",
               **body)  # fmt: skip
    make_entry(store, other, slug="qw-other-draft", title="Quillwort elsewhere", status="draft",
               **body)  # fmt: skip
    store.commit()
    return other


def test_drafts_only_for_their_organisation_archived_only_on_request(
    catalogue_app, store, member, quillwort
):
    anonymous = catalogue_app.test_client()
    outsider = signed_in(catalogue_app, add_user(catalogue_app, store, quillwort, role="editor"))
    own = signed_in(catalogue_app, member)
    seen = {
        (name, archived): set(ranked(search(client, q="quillwort", archived=archived)))
        for name, client in (("anonymous", anonymous), ("outsider", outsider), ("own", own))
        for archived in ("", "1")
    }
    assert seen[("anonymous", "")] == {"qw-published"}
    assert seen[("anonymous", "1")] == {"qw-published", "qw-archived"}
    assert seen[("outsider", "")] == {"qw-published", "qw-other-draft"}
    assert seen[("outsider", "1")] == {"qw-published", "qw-archived", "qw-other-draft"}
    assert seen[("own", "")] == {"qw-published", "qw-draft"}
    assert seen[("own", "1")] == {"qw-published", "qw-draft", "qw-archived"}
    assert '<span class="badge badge-status">Draft</span>' in search(own, q="quillwort")


def test_similar_fragment_never_shows_drafts(catalogue_app, member, quillwort):
    for client in (catalogue_app.test_client(), signed_in(catalogue_app, member)):
        fragment = client.get("/search/similar?title=Quillwort+meadows").get_data(as_text=True)
        assert "/entries/qw-published" in fragment
        assert "qw-draft" not in fragment and "qw-other-draft" not in fragment
        assert "qw-archived" not in fragment


VECTORS = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"><svg onload=alert(1)>',
    "<iframe src=javascript:alert(1)></iframe>", "<mark>fake</mark>", "</a><a href=//evil>",
]  # fmt: skip
ALLOWED_IN_TITLE = re.compile(r'<a href="/entries/[a-z0-9-]+">|</a>|<mark>|</mark>')


def test_highlights_add_only_mark_tags(client, store):
    """Titles and summaries are plain text; body vectors sit in code spans, which reach the
    index as the literal characters."""
    vectors = " ".join(VECTORS)
    code = " ".join(f"`{v}`" for v in VECTORS)
    body = f"## Context\n\nQuillwort {code} quillwort."
    evil = make_organisation(store, name="<svg onload=alert(2)> Trust")
    make_entry(store, evil, slug="xss-entry", title=f"Quillwort {vectors}",
               summary=f"Quillwort {vectors}", body=body)  # fmt: skip
    store.commit()
    for q in ("quillwort", "quillwort fake", "<script>alert(1)</script> quillwort"):
        page = search(client, q=q)
        listing = RESULTS.search(page).group(0)
        titles = re.findall(r'<h3 class="entry-card-title">(.*?)</h3>', listing, re.S)
        snippets = re.findall(r'<p class="snippet">(.*?)</p>', listing, re.S)
        summary = re.findall(r'<p class="entry-card-summary">(.*?)</p>', listing, re.S)
        assert titles and snippets and summary
        assert "<mark>Quillwort</mark>" in titles[0] and "<mark>" in snippets[0]
        for part in titles:
            assert re.findall(r"<[^>]*>", part) == ALLOWED_IN_TITLE.findall(part)
        for part in snippets:
            assert set(re.findall(r"<[^>]*>", part)) <= {"<mark>", "</mark>"}
        assert not re.findall(r"<[^>]*>", "".join(summary))
        assert "&lt;" in titles[0] and "&lt;" in snippets[0]
        if q == "quillwort":
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in titles[0] + snippets[0]
        assert "&lt;mark&gt;" in titles[0]  # the typed tag is text, not markup
        for raw in ("<script>alert", "<img src=x", "<svg", "<iframe", "//evil>"):
            assert raw not in page, raw
    corrected = search(client, q="quillwrt <img src=x onerror=alert(3)>")
    assert "Did you mean" in corrected and "quillwort &lt;img src=x" in corrected
    assert "<img src=x" not in corrected and "&lt;svg onload=alert(2)&gt; Trust" in corrected


NOT_FOUND = [
    "/search?channel=carrier-pigeon", "/search?sector=space-agency", "/search?kind=manifesto",
    "/search?topic=astrology", "/search?organisation=nobody",
    "/search?q=x&channel=x-twitter&channel=nope", "/search?sort=random", "/search?page=0",
    "/search?page=abc", "/search?page=-1", "/search?page=1.5", "/search?q=podcast&page=2",
    "/search?page=4", "/search?page=99999999999999999999",
]  # fmt: skip


@pytest.mark.parametrize("url", NOT_FOUND)
def test_unknown_values_and_pages_past_the_end_are_404(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_page_past_the_end_of_no_results_is_404(client):
    assert client.get("/search?q=xyzzyplugh&page=2").status_code == 404


def test_superscript_page_number_is_404(catalogue_app):
    catalogue_app.config["PROPAGATE_EXCEPTIONS"] = False
    assert catalogue_app.test_client().get("/search?page=²").status_code == 404


def test_very_long_query_is_shortened_with_a_notice(client):
    words = " ".join(["podcast"] * 60)  # 479 characters
    page = search(client, q=words)
    assert "Your search was longer than 300 characters" in page
    # Cut where a word ends: half a word would have to match too.
    assert f'value="{words[:295]}"' in page and 'maxlength="300"' in page
    assert ranked(page)[:3] == ranked(search(client, q="podcast"))[:3]
    assert "longer than 300" not in search(client, q="podcast")


WEIRD = [
    '"', "-", "--", "channel:", "-channel:", ":::", "-\"", '""', 'channel:"', "kind:",
    "organisation:\"", "a:b:c", "title:", "body:\"", "(", "[", "{", "\\", "'", "*", "?", "%",
    "%00", "\x00", "AND OR NOT", "café", "社交媒体", "🙂", "🙂 channel:🙂", "ß", "İstanbul",
    "e\u0301", "\u200b", "\u202e", "x" * 3000, '"' * 301, "-" * 500, "channel:youtube " * 40,
]  # fmt: skip


@pytest.mark.parametrize("q", WEIRD, ids=range(len(WEIRD)))
def test_odd_input_never_fails(catalogue_app, q):
    catalogue_app.config["PROPAGATE_EXCEPTIONS"] = False
    client = catalogue_app.test_client()
    for params in ({"q": q}, {"q": q, "sort": "newest", "channel": "facebook", "archived": "1"}):
        assert client.get("/search", query_string=params).status_code == 200
    assert client.get("/search/similar", query_string={"title": q, "summary": q}).status_code == 200


def test_no_results_offers_the_search_without_filters(client):
    page = search(client, q="podcast", channel="qr-codes", sort="newest")
    assert ranked(page) == [] and "with these filters" in page
    assert '<a href="/search?q=podcast">Search again without the filters</a> (5 results)' in page
    assert "Nearest matches" in page  # the query without the filters
    assert "without the filters" not in search(client, q="xyzzyplugh")


def test_without_filters_link_leads_to_the_count_it_promises(client, store, org):
    make_entry(store, org, slug="old-podcast", title="Old podcast notes", status="archived",
               channels=("podcasts",))  # fmt: skip
    store.commit()
    page = search(client, q="podcast", channel="qr-codes", archived="1")
    link, promised = re.search(
        r'<a href="([^"]+)">Search again without the filters</a> \((\d+) results\)', page
    ).groups()
    landed = client.get(html.unescape(link)).get_data(as_text=True)
    assert f"{promised} results for" in landed


def test_misspelling_shows_nearest_matches_and_a_corrected_link(client):
    page = search(client, q="twiter")
    assert "Nearest matches" in page and 'href="/search?q=twitter">twitter</a>' in page


def test_no_results_invites_a_new_entry(catalogue_app, member):
    anonymous = search(catalogue_app.test_client(), q="xyzzyplugh")
    assert 'href="/register"' in anonymous and 'href="/login?next=' in anonymous
    assert 'href="/entries/new"' not in anonymous
    signed = search(signed_in(catalogue_app, member), q="xyzzyplugh")
    assert '<a class="button" href="/entries/new">Start a new entry</a>' in signed


def test_bookmarked_url_reproduces_the_page(catalogue_app, store, org):
    make_entry(store, org, slug="old-notes", title="Old posting notes", status="archived",
               channels=("facebook",))  # fmt: skip
    store.commit()
    url = "/search?q=posting&channel=facebook&channel=youtube&sort=newest&archived=1&page=2"
    first = catalogue_app.test_client().get(url).get_data(as_text=True)
    again = catalogue_app.test_client().get(url).get_data(as_text=True)
    main = re.compile(r"<main.*</main>", re.S)
    assert main.search(first).group(0) == main.search(again).group(0)
    assert "35 results for “posting”, page 2 of 2" in first and len(ranked(first)) == 15
    search_box, filters = Page(first).forms_to("/search")
    state = [("q", "posting"), ("channel", "facebook"), ("channel", "youtube"),
             ("sort", "newest"), ("archived", "1")]  # fmt: skip
    assert sorted(search_box.items(multi=True)) == sorted(state)
    assert sorted(filters.items(multi=True)) == sorted(state)
    previous = '<a href="/search?q=posting&amp;channel=facebook&amp;channel=youtube&amp;sort=newest'
    assert previous + '&amp;archived=1" rel="prev">' in first


def test_newest_first_follows_creation_dates(client, store):
    created = dict(store.execute(text("SELECT slug, created_at FROM entries")).all())
    for q in ("", "accounts"):
        shown = ranked(search(client, q=q, sort="newest"))
        shown += ranked(search(client, q=q, sort="newest", page=2)) if len(shown) == 20 else []
        dates = [created[slug] for slug in shown]
        assert len(shown) > 10 and dates == sorted(dates, reverse=True)


def test_search_boxes(client):
    for url in ("/about", "/sectors/police", "/entries/strathbeck-live-gritter-map", "/orgs"):
        page = client.get(url).get_data(as_text=True)
        assert 'class="search-form header-search" method="get" action="/search"' in page, url
        assert 'id="header-q" name="q"' in page
    home = client.get("/").get_data(as_text=True)
    assert "Search before you write" in home and 'id="hero-q" name="q"' in home
    assert 'id="header-q"' not in home and 'id="header-q"' not in search(client, q="x")


def test_similar_fragment_lists_up_to_five_published_entries(client, store):
    title = "Keeping team social media accounts secure"
    response = client.get("/search/similar", query_string={"title": title})
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in fragment
    links = re.findall(r'href="/entries/([a-z0-9-]+)"', fragment)
    assert 1 <= len(links) <= 5 and links[0] == "securing-neighbourhood-team-accounts"
    published = set(
        store.execute(text("SELECT slug FROM entries WHERE status='published'")).scalars()
    )
    assert set(links) <= published
    assert fragment.count("Very similar") == 1
    assert client.get("/search/similar?title=").get_data(as_text=True).strip() == ""
    assert "No similar entries yet" in client.get("/search/similar?title=xyzzyplugh").text


TAKEN = "Keeping team social media accounts secure when people move on"


def test_check_for_similar_keeps_the_form_and_saves_nothing(catalogue_app, store, member):
    client = signed_in(catalogue_app, member)
    before = counts(store)
    typed = entry_data(title=TAKEN, summary="Passwords & handover <b>when</b> staff leave.",
                       body="## Purpose\n\nKeep *accounts* safe.\n", action="similar")  # fmt: skip
    response = send(client, "/entries/new?kind=guidance", typed)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Similar entries already on Span" in page
    assert 'href="/entries/securing-neighbourhood-team-accounts"' in page
    form = Page(page).form("/entries/new")
    for field in ("title", "summary", "body", "licence", "channels"):
        value = typed[field]
        assert form.getlist(field) == ([value] if isinstance(value, str) else value), field
    assert counts(store) == before


INTERSTITIALS = [
    ("guidance", TAKEN.upper(), "securing-neighbourhood-team-accounts",
     "Similar guidance already exists"),
    ("case_study", "A live gritter map that cut winter phone calls by a third",
     "strathbeck-live-gritter-map", "Similar work already exists"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "title", "slug", "heading"), INTERSTITIALS)
def test_submit_interstitial_then_save_anyway(
    catalogue_app, store, member, kind, title, slug, heading
):
    client = signed_in(catalogue_app, member)
    before = counts(store)
    typed = entry_data(kind=kind, title=title, summary="Our own take on it.")
    response = send(client, f"/entries/new?kind={kind}", typed)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and heading in page
    assert "Your entry has not been saved yet" in page
    assert f'href="/entries/{slug}"' in page.split('id="similar-warning-heading"')[1]
    assert counts(store) == before
    form = Page(page).form("/entries/new")
    assert (form["title"], form["summary"], form["body"]) == (
        typed["title"], typed["summary"], typed["body"])  # fmt: skip
    assert form["similar_dismissed"] == "1"
    form["action"] = "draft"  # the "Save draft anyway" button
    saved = send(client, f"/entries/new?kind={kind}", form)
    assert saved.status_code == 302
    assert counts(store) == (before[0] + 1, before[1] + 1)


def test_distinct_title_is_saved_without_interstitial(catalogue_app, store, member):
    client = signed_in(catalogue_app, member)
    before = counts(store)
    response = send(client, "/entries/new?kind=guidance", entry_data(title="Quillwort rotas"))
    assert response.status_code == 302 and counts(store)[0] == before[0] + 1


@pytest.mark.parametrize(
    "slug", ["securing-neighbourhood-team-accounts", "strathbeck-live-gritter-map",
             "ward-podcast-nurse-recruitment", "cairnloch-wildfire-flood-warnings-three-channels"],
)  # fmt: skip
def test_related_across_sectors_come_from_other_sectors(client, store, slug):
    page = client.get(f"/entries/{slug}").get_data(as_text=True)
    assert "Related across sectors" in page
    related = TITLE_LINK.findall(page.split('id="related-heading"')[1])
    assert 1 <= len(related) <= 5 and slug not in related
    rows = dict(store.execute(text("SELECT slug, origin_sector_id FROM entries")).all())
    assert all(rows[other] != rows[slug] for other in related), related


def test_edits_through_the_form_are_searchable_at_once(catalogue_app, store, editor, org):
    make_entry(store, org, slug="qw-edit", title="Quillwort timetable")
    store.commit()
    anonymous = catalogue_app.test_client()
    assert ranked(search(anonymous, q="quillwort")) == ["qw-edit"]
    client = signed_in(catalogue_app, editor)
    form = Page(client.get("/entries/qw-edit/edit").get_data(as_text=True)).form("/edit")
    form["title"], form["action"] = "Marshwort timetable", "save"
    assert send(client, "/entries/qw-edit/edit", form).status_code == 302
    assert ranked(search(anonymous, q="marshwort")) == ["qw-edit"]
    assert ranked(search(anonymous, q="quillwort")) == []
    new = entry_data(title="Bogbean rota", action="publish")
    assert send(client, "/entries/new?kind=guidance", new).status_code == 302
    assert len(ranked(search(anonymous, q="bogbean"))) == 1
    assert send(client, "/entries/qw-edit/archive", {}).status_code == 302
    assert ranked(search(anonymous, q="marshwort")) == []
    assert ranked(search(anonymous, q="marshwort", archived="1")) == ["qw-edit"]


def test_a_move_back_to_draft_leaves_anonymous_search_at_once(client, store):
    assert "strathbeck-live-gritter-map" in ranked(search(client, q="gritter"))
    entry = store.scalar(select(Entry).where(Entry.slug == "strathbeck-live-gritter-map"))
    entry.status = "draft"
    store.commit()
    assert ranked(search(client, q="gritter")) == []


def test_accented_word_that_matches_gets_no_suggestion(client, store, org):
    make_entry(store, org, slug="cafe", title="Our café drop-in sessions")
    store.commit()
    assert ranked(search(client, q="cafe")) == ["cafe"]
    page = search(client, q="café")
    assert ranked(page) == ["cafe"] and "Did you mean" not in page


def test_organisation_name_that_matches_gets_no_suggestion(client, store):
    wester = make_organisation(store, sector="housing", name="Wester Homes")
    make_entry(store, wester, slug="wester-repairs", title="Repairs on the estate")
    store.commit()
    page = search(client, q="wester")
    assert ranked(page) == ["wester-repairs"] and "Did you mean" not in page


def test_a_suggestion_follows_the_catalogue_as_it_changes(client, store, org):
    """Corrections are kept with the index generation they were looked up in: a word saved
    since is offered at once, and one whose only entry went back to draft no longer is."""
    assert "Did you mean" not in search(client, q="gorsebloon")
    entry = make_entry(store, org, slug="gorse", title="Gorsebloom walks")
    store.commit()
    assert "Did you mean <a" in search(client, q="gorsebloon")
    assert "<strong>gorsebloom</strong>" in search(client, q="gorsebloon")
    entry.status = "draft"
    store.commit()
    assert "Did you mean" not in search(client, q="gorsebloon")
