"""Phones first, in real Chromium: at 375 px the header and the sample-content notice are
compact, the navigation folds behind "Menu", and the first search result and the first entry
of a sector page are on the first screen, below the header, with the filters folded behind
"Filter (n selected)" (a <details>, so no JavaScript is needed). At 1280 px the navigation
shows and the filters stand beside the results, as before."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Live, box, serve, tab_through, violations_at_every_width

PHONE = {"width": 375, "height": 667}  # a small phone's first screen
DESKTOP = {"width": 1280, "height": 800}
LISTINGS = {
    "search": "/search?q=accounts",
    "sector page": "/sectors/local-government",
    "filtered search": "/search?q=accounts&channel=facebook&channel=x-twitter&archived=1",
    "filtered sector page": "/sectors/health?channel=x-twitter&kind=case_study",
}


@pytest.fixture(scope="module")
def live(catalogue_db, tmp_path_factory) -> Iterator[Live]:
    """Nothing here saves anything, so one server serves the whole module."""
    yield from serve(catalogue_db, tmp_path_factory)


@pytest.mark.parametrize("name", ["search", "sector page"])
def test_first_result_is_on_the_first_screen_of_a_phone(open_page, live, name):
    page = open_page(PHONE)
    page.goto(live.url + LISTINGS[name])
    header = box(page, "header.site-header")
    title = box(page, ".entry-card-title")
    assert title["y"] >= header["y"] + header["height"], "the first result is under the header"
    assert title["y"] + title["height"] <= PHONE["height"], f"first result's title at {title}"


def test_header_and_sample_notice_are_compact_on_a_phone(open_page, live):
    page = open_page(PHONE)
    page.goto(live.url + "/sectors/police")
    header = box(page, "header.site-header")
    assert header["height"] <= 200, f"header and notice take {header['height']}px"
    expect(page.locator(".sample-notice")).to_contain_text("Sample content.")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()


def test_menu_opens_by_keyboard_on_a_phone_and_is_always_open_on_a_desktop(open_page, live):
    page = open_page(PHONE)
    page.goto(live.url + "/about")
    menu = page.locator("summary", has_text="Menu")
    menu.focus()
    page.keyboard.press("Enter")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Sectors")).to_be_visible()
    page.get_by_role("navigation", name="Your account").get_by_role("link", name="Sign in").click()
    assert "/login" in page.url

    desktop = open_page(DESKTOP)
    desktop.goto(live.url + "/about")
    expect(desktop.locator("summary", has_text="Menu")).to_be_hidden()
    expect(desktop.get_by_role("navigation", name="Main").get_by_role("link", name="Sectors"))\
        .to_be_visible()  # fmt: skip


@pytest.mark.parametrize(
    ("name", "chosen"),
    [("search", 0), ("sector page", 0), ("filtered search", 3), ("filtered sector page", 2)],
)
def test_filters_fold_behind_a_count_on_a_phone(open_page, live, name, chosen):
    page = open_page(PHONE)
    page.goto(live.url + LISTINGS[name])
    toggle = page.locator("summary.filters-toggle")
    expect(toggle).to_have_text(f"Filter ({chosen} selected)" if chosen else "Filter")
    apply = page.get_by_role("button", name="Apply filters")
    expect(apply).to_be_hidden()
    results = box(page, ".results")
    assert box(page, ".filters-disclosure")["y"] < results["y"], "the toggle is above"
    toggle.focus()
    page.keyboard.press("Enter")  # a <details>: no script involved
    expect(apply).to_be_visible()
    assert box(page, ".filters")["y"] < box(page, ".results")["y"]


@pytest.mark.parametrize("name", list(LISTINGS))
def test_filters_stand_beside_the_results_on_a_desktop(open_page, live, name):
    page = open_page(DESKTOP)
    page.goto(live.url + LISTINGS[name])
    expect(page.locator("summary.filters-toggle")).to_be_hidden()
    expect(page.get_by_role("button", name="Apply filters")).to_be_visible()
    filters, results = box(page, "form.filters"), box(page, ".results")
    assert filters["x"] + filters["width"] <= results["x"], "filters to the left of the results"
    assert abs(filters["y"] - results["y"]) < 5, "and level with them"


def test_no_script_needed(browser, live):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(live.url + LISTINGS["filtered sector page"])
    page.locator("summary.filters-toggle").click()
    expect(page.get_by_role("button", name="Apply filters")).to_be_visible()
    page.locator("summary", has_text="Menu").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Topics"))\
        .to_be_visible()  # fmt: skip
    context.close()


@pytest.mark.parametrize("name", list(LISTINGS))
def test_axe_finds_nothing_folded_or_open(open_page, live, name):
    page = open_page(PHONE)
    page.goto(live.url + LISTINGS[name])
    found = violations_at_every_width(page)
    page.set_viewport_size(PHONE)
    page.locator("summary.filters-toggle").click()
    page.locator("summary", has_text="Menu").click()
    found += violations_at_every_width(page)
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_keyboard_reaches_every_control(open_page, live, viewport):
    page = open_page(viewport)
    page.goto(live.url + LISTINGS["filtered search"])
    if viewport is PHONE:  # the menu and the filters open (other tests open them by keyboard)
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    total, reached, invisible = tab_through(page)
    assert len(reached) == total, f"reached {len(reached)} of {total} focusable elements"
    assert invisible == [], invisible
