"""What a newcomer sees first, in real Chromium: credit under an entry's title on the first
screen, sector pages saying where work comes from, tables that scroll inside a labelled region
instead of overflowing, cards whose dates agree with their order, and a print-out without the
site's navigation. Every page here passes axe-core at 1280 and 375 px and works by keyboard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Live, box, serve, tab_through, violations_at_every_width

PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 800}
COPY = "/entries/strathbeck-flood-and-storm-warnings-three-channels"
ORIGINAL = "/entries/cairnloch-wildfire-flood-warnings-three-channels"
PAGES = {
    "copy": COPY,
    "original": ORIGINAL,
    "home": "/",
    "sector from elsewhere": "/sectors/local-government?origin=also-relevant",
    "borrowing": "/borrowing",
    "borrows behind a number": "/borrowing/between?lent-by=local-government",
}
TABLES = ["/", "/borrowing", "/borrowing/between", ORIGINAL + "/history"]
# For every table: does its scroll region stay inside the page, does the table fit its region
# or can the region scroll, and is any word of a heading split across two lines?
MEASURE_TABLES = """() => [...document.querySelectorAll('table')].map(table => {
  const region = table.closest('.table-scroll');
  const box = (region || table).getBoundingClientRect();
  const main = document.querySelector('main').getBoundingClientRect();
  const split = [];
  for (const th of table.querySelectorAll('th')) {
    const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/[^\\s\u2010-]+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (lines.size > 1) split.push(match[0]);
      }
    }
  }
  return {caption: (table.caption || {}).textContent || '', left: box.left, right: box.right,
          mainLeft: main.left, mainRight: main.right,
          scrolls: region ? getComputedStyle(region).overflowX === 'auto' : false,
          fits: table.scrollWidth <= (region || table.parentElement).clientWidth, split};
})"""


@pytest.fixture(scope="module")
def live(catalogue_db, tmp_path_factory) -> Iterator[Live]:
    """Nothing here changes the catalogue, so one server serves the whole module."""
    yield from serve(catalogue_db, tmp_path_factory)


@pytest.mark.parametrize("url", [COPY, ORIGINAL], ids=["copy", "original"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_lineage_line_is_on_the_first_screen(open_page, live, url, viewport):
    page = open_page(viewport)
    page.goto(live.url + url)
    line = page.locator("header.entry-header .lineage-line")
    expect(line).to_be_visible()
    drawn = line.bounding_box()
    assert drawn["y"] + drawn["height"] <= viewport["height"], f"the lineage line at {drawn}"
    title = box(page, "h1")
    assert drawn["y"] > title["y"], "under the title"


def test_the_first_card_of_a_filtered_sector_page_is_on_a_phones_first_screen(open_page, live):
    page = open_page(PHONE)
    page.goto(live.url + PAGES["sector from elsewhere"])
    card = page.locator(".entry-card").first
    expect(card.locator(".badge-relevant")).to_have_text("Also relevant to Local government")
    title = card.locator(".entry-card-title").bounding_box()
    assert title["y"] + title["height"] <= PHONE["height"], f"the first card's title at {title}"


@pytest.mark.parametrize("url", TABLES)
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_no_table_overflows_its_container(open_page, live, url, viewport):
    page = open_page(viewport)
    page.goto(live.url + url)
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    tables = page.evaluate(MEASURE_TABLES)
    assert tables, url
    for table in tables:
        assert table["left"] >= table["mainLeft"] - 1, table
        assert table["right"] <= table["mainRight"] + 1, table
        assert table["fits"] or table["scrolls"], table
        assert table["split"] == [], f"words split across lines: {table}"


def test_the_borrowing_table_fits_a_desktop(open_page, live):
    page = open_page(DESKTOP)
    page.goto(live.url + "/borrowing")
    (table,) = page.evaluate(MEASURE_TABLES)[:1]
    assert table["fits"], "every column, Total lent included, is in view at 1280 px"


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


def test_printing_an_entry_leaves_out_the_site_around_it(open_page, live):
    page = open_page(DESKTOP)
    page.goto(live.url + COPY)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.emulate_media(media="print")
    for hidden in ("nav.site-nav", ".site-menu", ".header-search", ".sample-notice",
                   ".breadcrumbs", ".entry-actions", ".related", ".site-footer"):  # fmt: skip
        expect(page.locator(hidden).first).to_be_hidden()
    for shown in ("h1", ".byline", ".lineage-line", ".entry-body", ".facts", ".attribution",
                  ".print-address"):  # fmt: skip
        expect(page.locator(shown).first).to_be_visible()
    expect(page.locator(".print-address")).to_contain_text(live.url + COPY)
    page.emulate_media(media="screen")
    expect(page.locator(".print-address")).to_be_hidden()


def test_the_title_counts_its_characters_as_people_type(browser, live):
    from tests.browser.test_borrowing import HEALTH_EDITOR
    from tests.browser.test_editing import sign_in

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, live, HEALTH_EDITOR)
    page.goto(live.url + "/entries/new?kind=guidance")
    count = page.locator("#title-count")
    expect(count).to_have_text("You have 200 characters left")
    page.locator("#title").fill("x" * 195)
    expect(count).to_have_text("You have 5 characters left")
    page.locator("#title").fill("x" * 203)  # nothing is cut: the count says how far over
    expect(count).to_have_text("You have 3 characters too many")
    assert page.locator("#title").input_value() == "x" * 203
    expect(page.locator("#title-count + [aria-live]")).to_have_text(
        "You have 3 characters too many"
    )
    found = violations_at_every_width(page)
    context.close()
    assert found == [], "\n".join(found)
