"""Accessibility of search in real Chromium: axe-core finds zero violations on every search
state, the home page search box, "Related across sectors" and the new-entry form's similar
entries and interstitial, at 1280 and 375 px; the search page and suggestions work by keyboard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    FOCUS_STATE,
    WIDTHS,
    Live,
    serve,
    tab_through,
    violations_at_every_width,
)
from tests.browser.test_editing import open_page, sign_in
from tests.browser.test_search import (
    DUPLICATE,
    EDITOR,
    EXISTING,
    EXISTING_SLUG,
    type_title_and_wait_for_similar,
)

NEW_GUIDANCE = "/entries/new?kind=guidance"


@pytest.fixture(scope="module")
def live(catalogue_db, tmp_path_factory) -> Iterator[Live]:
    """Nothing here saves anything, so one server serves the whole module."""
    yield from serve(catalogue_db, tmp_path_factory)


def _search(query: str, *shown: str) -> Callable:
    """/search?``query``, checked to show each text in ``shown``."""

    def setup(page, live: Live) -> None:
        response = page.goto(f"{live.url}/search?{query}")
        assert response.status == 200, query
        for text in shown:
            expect(page.locator("main")).to_contain_text(text)

    return setup


def _home(page, live: Live) -> None:
    page.goto(live.url + "/")
    expect(page.get_by_role("search", name="Search before you write")).to_be_visible()


def _related(page, live: Live) -> None:
    page.goto(f"{live.url}/entries/{EXISTING_SLUG}")
    related = page.get_by_role("region", name="Related across sectors")
    expect(related.locator(".entry-card").first).to_be_visible()


def _suggestions(page, live: Live) -> None:
    sign_in(page, live, EDITOR)
    page.goto(live.url + NEW_GUIDANCE)
    type_title_and_wait_for_similar(page)


def _interstitial(page, live: Live) -> None:
    """Publishing a copy of a published title: the "already exists" panel (nothing saved)."""
    sign_in(page, live, EDITOR)
    page.goto(live.url + NEW_GUIDANCE)
    page.get_by_label("Title", exact=True).fill(DUPLICATE)
    page.get_by_label("Summary", exact=True).fill("Our own checklist, written again.")
    page.get_by_label("Text", exact=True).fill("## Purpose\n\nOur own checklist.\n")  # no prompts
    page.get_by_label("Facebook").check()
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("heading", name="Similar guidance already exists")).to_be_visible()


STATES: dict[str, Callable] = {
    "results": _search("q=qr+codes", "4 results for “qr codes”"),
    "no results": _search("q=xyzzyplugh", "Nothing matched “xyzzyplugh”"),
    "results, then partial matches": _search(
        "q=winter+phone+calls", "4 results for “winter phone calls”", "Partial matches"
    ),
    "partial matches only": _search(
        "q=gritter+podcast", "no entry has all of these words", "Partial matches"
    ),
    "no results with nearest matches": _search(
        "q=twiter", "Did you mean twitter?", "Nearest matches"
    ),
    "facets selected": _search(
        "q=qr+codes&sector=health&sector=fire-and-rescue&channel=youtube",
        "Sector: Health",
        "Sector: Fire and rescue",
        "Channel: YouTube",
    ),
    "organisations cut to the busiest": _search("q=", "Show all 13 organisations"),
    "filtered with no results": _search(
        "q=gritter&kind=guidance", "with these filters", "Search again without the filters"
    ),
    "home page search box": _home,
    "entry with related across sectors": _related,
    "new entry with similar entries": _suggestions,
    "new entry interstitial": _interstitial,
}


@pytest.mark.parametrize("state", STATES)
def test_axe_reports_no_violations(browser, live, state):
    """Each state is reached once, then checked at each width (the layout reflows in place)."""
    context, page = open_page(browser, WIDTHS["desktop"])
    STATES[state](page, live)
    found = violations_at_every_width(page)
    context.close()
    assert found == [], f"{state}:\n" + "\n".join(found)


# --- Keyboard ---------------------------------------------------------------------------------

SEARCH_PAGES = {
    "results with filters": "q=qr+codes&sector=education&channel=qr-codes",
    "no results": "q=twiter",
    "partial matches": "q=winter+phone+calls",
}


@pytest.mark.parametrize("where", SEARCH_PAGES)
def test_every_control_on_the_search_page_shows_visible_focus(browser, live, where):
    context, page = open_page(browser)
    page.goto(f"{live.url}/search?{SEARCH_PAGES[where]}")
    total, reached, invisible = tab_through(page)
    context.close()
    assert total > 15 and len(reached) == total, f"reached {len(reached)} of {total} controls"
    assert invisible == [], invisible


def test_similar_entries_open_links_are_reached_by_keyboard(browser, live):
    """Tab from the title reaches each "Open" (and "Borrow this instead") link, with visible
    focus; Enter opens a tab."""
    context, page = open_page(browser)
    _suggestions(page, live)
    links = page.locator("#similar-entries a")
    names = [link.get_attribute("href") for link in links.all()]
    assert 1 <= page.locator("#similar-entries li").count() <= 5
    assert 1 <= len(names) <= 10
    page.locator("#title").focus()
    reached = []
    for _ in range(len(names) + 5):
        page.keyboard.press("Tab")
        if not page.evaluate("document.activeElement.closest('#similar-entries') !== null"):
            continue
        reached.append(page.evaluate("document.activeElement.getAttribute('href')"))
        assert page.evaluate(FOCUS_STATE)["visible"], f"{reached[-1]} has no visible focus"
        if len(reached) == len(names):
            break
    assert reached == names
    page.locator("#similar-entries a").first.focus()
    with context.expect_page() as opened:
        page.keyboard.press("Enter")
    entry_page = opened.value
    expect(entry_page.get_by_role("heading", level=1)).to_have_text(EXISTING)
    context.close()
