"""While the search index is being rebuilt, the pages that search say so plainly, offer the
listings instead, pass axe-core at 1280 and 375 px and work by keyboard.

The index is garbled on purpose, and this test holds the rebuild lock, so the "catching up"
state lasts as long as the module needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from kb.search.folders import REBUILD_LOCK, file_lock, live_folder
from tests.browser.conftest import Live, serve, tab_through, violations_at_every_width
from tests.browser.test_editing import open_page, sign_in
from tests.browser.test_search import EDITOR


@pytest.fixture(scope="module")
def live(catalogue_db, tmp_path_factory) -> Iterator[Live]:
    for server in serve(catalogue_db, tmp_path_factory):
        root = Path(server.app.config["SEARCH_INDEX_DIR"])
        toc = next((live_folder(root) / "public").glob("_MAIN_*.toc"))
        with file_lock(root / REBUILD_LOCK, timeout=5) as held:
            assert held
            toc.write_bytes(bytes(toc.stat().st_size))  # garbled: unreadable until rebuilt
            yield server


def _catching_up(page, live: Live) -> None:
    response = page.goto(f"{live.url}/search?q=qr+codes")
    assert response.status == 503
    expect(page.get_by_role("heading", level=1)).to_have_text("Search is catching up")
    expect(page.get_by_role("link", name="Browse by sector")).to_be_visible()


def _similar_unavailable(page, live: Live) -> None:
    sign_in(page, live, EDITOR)
    page.goto(f"{live.url}/entries/new?kind=guidance")
    page.get_by_label("Title", exact=True).fill("Police staff on social media")
    page.get_by_role("button", name="Check for similar entries").click()
    expect(page.locator("#similar-entries")).to_contain_text("cannot be checked just now")


@pytest.mark.parametrize("state", [_catching_up, _similar_unavailable], ids=["page", "form"])
def test_axe_reports_no_violations_while_search_catches_up(browser, live, state):
    context, page = open_page(browser)
    state(page, live)
    found = violations_at_every_width(page)
    context.close()
    assert found == [], "\n".join(found)


def test_the_catching_up_page_works_by_keyboard(browser, live):
    context, page = open_page(browser)
    _catching_up(page, live)
    total, reached, invisible = tab_through(page)
    context.close()
    assert total > 5 and len(reached) == total, f"reached {len(reached)} of {total} controls"
    assert invisible == [], invisible
