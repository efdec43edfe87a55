"""Real Chromium on search: similar entries while writing (with and without JavaScript), the
home page search by keyboard with facets, history and "Did you mean", and the "already exists"
interstitial on publishing a duplicate. axe-core and keyboard checks: test_search_a11y.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from kb.db import db
from kb.models import Entry
from tests.browser.conftest import Live, serve
from tests.browser.test_editing import open_page, sign_in
from tests.browser.test_editing_a11y import tab_to

ORG = "strathbeck-council"
EDITOR = f"editor@{ORG}.example"
TYPED = "QR codes on outpatient letters"
EXISTING = "QR codes on outpatient letters to reach preparation videos"
EXISTING_SLUG = "outpatient-letter-qr-codes-trial"
SUMMARY = "Printing codes on appointment letters so patients can watch a short video."
DUPLICATE = "Five-minute accessibility checklist for council social posts"  # Strathbeck guidance


@pytest.fixture(scope="module")
def live(catalogue_db, tmp_path_factory) -> Iterator[Live]:
    yield from serve(catalogue_db, tmp_path_factory)


def is_similar_fetch(response) -> bool:
    return "/search/similar?" in response.url


def count_titled(live: Live, title: str) -> int:
    with live.app.app_context():
        return db.session.scalar(select(func.count()).where(Entry.title == title))


def type_title_and_wait_for_similar(page, text: str = TYPED) -> None:
    """Type into #title key by key and wait for the debounced fetch to fill the region."""
    with page.expect_response(is_similar_fetch) as fetched:
        page.locator("#title").press_sequentially(text)
    assert fetched.value.ok
    expect(page.locator("#similar-entries li").first).to_be_visible()


# --- 1. Similar entries appear while typing, and open in a new tab ----------------------------


def test_similar_entries_appear_while_typing_and_open_in_a_new_tab(browser, live):
    context, page = open_page(browser)
    sign_in(page, live, EDITOR)
    page.get_by_role("link", name="New entry").click()
    page.get_by_role("link", name="Guidance").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New guidance")
    form_url = page.url
    fetches, posts = [], []
    page.on("request", lambda r: fetches.append(r.url) if "/search/similar" in r.url else None)
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    type_title_and_wait_for_similar(page)
    region = page.locator("#similar-entries")
    expect(region.get_by_role("heading", name="Similar entries already on Span")).to_be_visible()
    expect(region).to_contain_text(EXISTING)
    assert len(fetches) == 1, f"typing quickly should fetch once after the pause: {fetches}"
    assert posts == [] and page.url == form_url, "no button was pressed, no page was loaded"

    with context.expect_page() as opened:
        region.get_by_role("link", name=f"Open “{EXISTING}”").click()
    entry_page = opened.value
    entry_page.wait_for_load_state()
    assert entry_page.url == f"{live.url}/entries/{EXISTING_SLUG}"
    expect(entry_page.get_by_role("heading", level=1)).to_have_text(EXISTING)
    assert page.url == form_url
    expect(page.locator("#title")).to_have_value(TYPED)
    context.close()


def test_short_titles_fetch_nothing(browser, live):
    """Fewer than four characters: no request, the region stays empty."""
    context, page = open_page(browser)
    sign_in(page, live, EDITOR)
    page.goto(live.url + "/entries/new?kind=guidance")
    fetches = []
    page.on("request", lambda r: fetches.append(r.url) if "/search/similar" in r.url else None)
    page.locator("#title").press_sequentially("QR ")
    page.wait_for_timeout(700)
    assert fetches == []
    expect(page.locator("#similar-entries")).to_have_text("")
    context.close()


# --- 2. Without JavaScript, the button does the same with a full page --------------------------


def test_check_button_lists_similar_entries_without_javascript(browser, live):
    context, page = open_page(browser, java_script_enabled=False)
    sign_in(page, live, EDITOR)
    page.goto(live.url + "/entries/new?kind=guidance")
    page.get_by_label("Title", exact=True).fill(TYPED)
    page.get_by_label("Summary", exact=True).fill(SUMMARY)
    page.wait_for_timeout(600)  # past the script's pause: nothing happens without JavaScript
    region = page.locator("#similar-entries")
    expect(region).to_have_text("")

    page.get_by_role("button", name="Check for similar entries").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New guidance")
    expect(region.get_by_role("heading", name="Similar entries already on Span")).to_be_visible()
    expect(region.get_by_role("link", name=f"Open “{EXISTING}”")).to_be_visible()
    assert 1 <= region.locator("li").count() <= 5
    expect(page.get_by_label("Title", exact=True)).to_have_value(TYPED)
    expect(page.get_by_label("Summary", exact=True)).to_have_value(SUMMARY)
    expect(page.get_by_label("Text", exact=True)).to_contain_text("## Purpose")
    assert count_titled(live, TYPED) == 0
    context.close()


# --- 3. Search from the home page by keyboard alone --------------------------------------------


def results_heading(page):
    return page.locator("#results-heading")


def wait_for_search(page, **expected: str) -> None:
    """Wait until the page is /search with exactly these arguments (the sort aside)."""

    def matches(url: str) -> bool:
        parts = urlsplit(url)
        args = {k: v for k, v in parse_qs(parts.query).items() if k != "sort"}
        return parts.path == "/search" and args == {k: [v] for k, v in expected.items()}

    page.wait_for_url(matches)


def test_home_search_facets_history_and_did_you_mean_by_keyboard(browser, live):
    context, page = open_page(browser)
    page.goto(live.url + "/")
    tab_to(page, "#hero-q")
    page.keyboard.type("qr codes")
    page.keyboard.press("Enter")
    wait_for_search(page, q="qr codes")
    expect(results_heading(page)).to_have_text("4 results for “qr codes”")
    marks = page.locator(".search-results mark")
    expect(marks.first).to_be_visible()
    assert {text.lower() for text in marks.all_inner_texts()} <= {"qr", "code", "codes"}
    expect(page.locator("#search-page-q")).to_have_value("qr codes")

    tab_to(page, "#f-channel-youtube")
    page.keyboard.press("Space")
    tab_to(page, ".filters button[type=submit]")
    page.keyboard.press("Enter")
    wait_for_search(page, q="qr codes", channel="youtube")
    expect(results_heading(page)).to_have_text("1 result for “qr codes”")
    expect(page.locator("#f-channel-youtube")).to_be_checked()
    chips = page.get_by_role("list", name="Filtered by:")
    expect(chips.get_by_role("link")).to_have_text(["Channel: YouTube (remove this filter) ×"])

    page.go_back()
    wait_for_search(page, q="qr codes")
    expect(results_heading(page)).to_have_text("4 results for “qr codes”")
    expect(page.locator(".active-filters")).to_have_count(0)
    page.go_forward()
    wait_for_search(page, q="qr codes", channel="youtube")
    expect(results_heading(page)).to_have_text("1 result for “qr codes”")
    expect(page.locator("#f-channel-youtube")).to_be_checked()

    # The chip drops the filter; then a misspelling, and its suggestion, by keyboard.
    tab_to(page, ".active-filters a")
    page.keyboard.press("Enter")
    wait_for_search(page, q="qr codes")
    tab_to(page, "#search-page-q")
    page.keyboard.press("Control+A")
    page.keyboard.type("twiter")
    page.keyboard.press("Enter")
    wait_for_search(page, q="twiter")
    expect(results_heading(page)).to_have_text("0 results for “twiter”")
    expect(page.locator(".did-you-mean")).to_have_text("Did you mean twitter?")
    tab_to(page, ".did-you-mean a")
    page.keyboard.press("Enter")
    wait_for_search(page, q="twitter")
    expect(results_heading(page)).to_have_text("28 results for “twitter”, page 1 of 2")
    expect(page.locator(".search-results mark").first).to_have_text("Twitter", ignore_case=True)
    context.close()


def test_back_shows_facet_boxes_matching_the_results(browser, live):
    context, page = open_page(browser)
    page.goto(live.url + "/search?q=qr+codes")
    page.get_by_label("YouTube").check()
    page.get_by_role("button", name="Apply filters").click()
    wait_for_search(page, q="qr codes", channel="youtube")
    page.go_back()
    wait_for_search(page, q="qr codes")
    expect(results_heading(page)).to_have_text("4 results for “qr codes”")
    checked = page.locator(".filters input:checked").count()
    context.close()
    assert checked == 0, "no filter applies, yet a box is ticked"


# --- 4. Publishing a duplicate: the interstitial, then "Publish anyway" ------------------------


def test_publishing_a_duplicate_title_asks_first_then_publishes_anyway(browser, live):
    context, page = open_page(browser)
    sign_in(page, live, EDITOR)
    page.goto(live.url + "/entries/new?kind=guidance")
    page.get_by_label("Title", exact=True).fill(DUPLICATE)
    page.get_by_label("Summary", exact=True).fill("Our own checklist, written again.")
    body = page.get_by_label("Text", exact=True)
    body.fill("## Purpose\n\nOur own checklist.\n\nOne more line of our own.\n")  # no prompts
    typed_body = body.input_value()
    page.get_by_label("Facebook").check()
    assert count_titled(live, DUPLICATE) == 1

    page.get_by_role("button", name="Publish", exact=True).click()
    panel = page.locator("section.similar-warning")
    expect(panel.get_by_role("heading", level=2)).to_have_text("Similar guidance already exists")
    expect(panel.get_by_role("link", name=DUPLICATE)).to_have_attribute("target", "_blank")
    expect(page.get_by_label("Title", exact=True)).to_have_value(DUPLICATE)
    expect(page.get_by_label("Summary", exact=True)).to_have_value(
        "Our own checklist, written again."
    )
    assert body.input_value() == typed_body
    expect(page.get_by_label("Facebook")).to_be_checked()
    assert count_titled(live, DUPLICATE) == 1, "nothing is saved before the author decides"

    panel.get_by_role("button", name="Publish anyway").click()
    expect(page.locator(".flashes")).to_have_text("Published.")
    expect(page.get_by_role("heading", level=1)).to_have_text(DUPLICATE)
    expect(page.locator(".entry-body")).to_contain_text("One more line of our own.")
    assert count_titled(live, DUPLICATE) == 2
    context.close()
