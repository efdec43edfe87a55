"""Real Chromium: the browsing journey by clicks, axe-core with zero violations at two widths,
and every link and control reachable by keyboard with a visible focus indicator."""

from __future__ import annotations

import pytest

from tests.browser.conftest import WIDTHS, axe_violations, tab_through

# One URL per page type.
PAGE_TYPES = {
    "home": "/",
    "sectors": "/sectors",
    "sector listing": "/sectors/police",
    "filtered listing": "/sectors/health?channel=x-twitter&kind=case_study&sort=title",
    "channels": "/channels",
    "channel listing": "/channels/qr-codes",
    "topics": "/topics",
    "topic listing": "/topics/emergencies-and-resilience",
    "organisations": "/orgs",
    "organisation": "/orgs/glenharrow-health-board",
    "entry": "/entries/strathbeck-channel-for-the-job-matrix",
    "about": "/about",
    "not found": "/entries/no-such-entry",
}


def _open(browser, width: int):
    context = browser.new_context(viewport={"width": width, "height": 900})
    return context, context.new_page()


def test_browse_journey_by_clicks(browser, live_server):
    context, page = _open(browser, 1280)
    page.goto(live_server + "/")
    page.get_by_role("list").get_by_role("link", name="Police", exact=True).click()
    assert page.url.endswith("/sectors/police")
    page.get_by_label("X/Twitter").check()
    page.get_by_role("button", name="Apply filters").click()
    assert "channel=x-twitter" in page.url
    assert page.get_by_role("link", name="Channel: X/Twitter (remove this filter)").is_visible()
    first = page.locator(".entry-card-title a").first
    title = first.inner_text()
    first.click()
    assert page.get_by_role("heading", level=1).inner_text() == title
    assert page.get_by_role("link", name="X/Twitter").first.is_visible()
    page.locator(".byline a").first.click()
    assert "/orgs/" in page.url
    assert page.get_by_role("heading", level=1).is_visible()
    context.close()


def test_grid_cell_leads_to_that_filtered_list(browser, live_server):
    context, page = _open(browser, 1280)
    page.goto(live_server + "/")
    cell = page.locator("table.grid td a").first
    count = int(cell.inner_text().split()[0])
    cell.click()
    assert "channel=" in page.url
    assert page.locator(".entry-card").count() == min(count, 20)
    context.close()


@pytest.mark.parametrize("width", WIDTHS.values(), ids=list(WIDTHS))
@pytest.mark.parametrize("name", PAGE_TYPES)
def test_axe_reports_no_violations(browser, live_server, name, width):
    context, page = _open(browser, width)
    page.goto(live_server + PAGE_TYPES[name])
    violations = axe_violations(page)
    context.close()
    assert violations == [], "\n".join(violations)


@pytest.mark.parametrize("name", ["home", "filtered listing", "entry", "organisation", "about"])
def test_keyboard_reaches_every_control_with_visible_focus(browser, live_server, name):
    context, page = _open(browser, 1280)
    page.goto(live_server + PAGE_TYPES[name])
    total, reached, invisible = tab_through(page)
    context.close()
    assert len(reached) == total, f"reached {len(reached)} of {total} focusable elements"
    assert invisible == [], invisible


def test_skip_link_is_first_and_moves_focus_to_main(browser, live_server):
    context, page = _open(browser, 375)
    page.goto(live_server + "/sectors/police")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    context.close()


def test_filters_work_by_keyboard_alone(browser, live_server):
    context, page = _open(browser, 1280)
    page.goto(live_server + "/sectors/police")
    page.locator("#f-kind-guidance").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Apply filters").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**kind=guidance**")
    assert page.get_by_role("link", name="Kind: Guidance (remove this filter)").is_visible()
    context.close()


def test_no_horizontal_page_scroll_on_a_phone(browser, live_server):
    context, page = _open(browser, 375)
    for url in ("/", "/sectors/police", "/entries/strathbeck-channel-for-the-job-matrix"):
        page.goto(live_server + url)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{url} scrolls sideways by {overflow}px"
    context.close()
