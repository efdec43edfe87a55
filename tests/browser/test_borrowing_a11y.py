"""Accessibility of borrowing in real Chromium: axe-core finds zero violations on every new page
and state (the entry's Borrowing panel, the upstream notice, the borrow, ask and merge forms with
their errors, requests, lineage, compare, an organisation's borrowed list, the sector × sector
table, "Borrow this instead" and the search sort and filter) at 1280 and 375 px; the borrow form
and the merge page work by keyboard alone, with visible focus on every control.
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
from tests.browser.test_borrowing import borrow_row, press_on
from tests.browser.test_editing import open_page, sign_in
from tests.browser.test_editing_a11y import tab_to
from tests.browser.test_search import type_title_and_wait_for_similar

HEALTH_EDITOR = "editor@glenharrow-health-board.example"
OAKHURST_EDITOR = "editor@oakhurst-schools-trust.example"
EASTMARCH_EDITOR = "editor@eastmarch-police.example"  # has a pending request in the seed
WESTSHIRE_EDITOR = "editor@westshire-fire-rescue.example"

SOURCE = "strathbeck-accessible-posts-checklist"  # two copies and an adoption
COPY = "glenharrow-staff-posting-openly-at-work"  # its original changed since: three conflicts
SECOND_GENERATION = "oakhurst-severe-weather-closure-warnings-three-channels"
TO_BORROW = "neighbourhood-teams-monthly-social-dashboard"  # a case study: every field
ASK_FIRST = "westshire-on-call-recruitment-ambassadors"
# Only the keyboard test below borrows this, so no state above depends on it.
KEYBOARD_SOURCE = "brackenfield-lecturers-linkedin-and-blogging-guide"


@pytest.fixture(scope="module")
def live(catalogue_db, tmp_path_factory) -> Iterator[Live]:
    """Only the keyboard tests save anything, and never to what the axe states show."""
    yield from serve(catalogue_db, tmp_path_factory)


# --- States -----------------------------------------------------------------------------------


def _visit(path: str, email: str | None = None, *shown: str) -> Callable:
    """``path``, signed in as ``email`` if given, checked to show each text in ``shown``."""

    def setup(page, live: Live) -> None:
        if email:
            sign_in(page, live, email)
        response = page.goto(live.url + path)
        assert response.status == 200, path
        for text in shown:
            expect(page.locator("main")).to_contain_text(text)

    return setup


def _upstream_notice_opened(page, live: Live) -> None:
    _visit(f"/entries/{COPY}", HEALTH_EDITOR)(page, live)
    notice = page.get_by_role("region", name="The original has changed since you borrowed it")
    notice.locator("summary").click()
    expect(notice.locator("details")).to_have_attribute("open", "")
    expect(notice.locator("details ins").first).to_be_visible()


def _borrow_form_errors(page, live: Live) -> None:
    """No title and no note: the error summary, both fields marked."""
    _visit(f"/entries/{TO_BORROW}/borrow", HEALTH_EDITOR)(page, live)
    page.get_by_label("Title", exact=True).fill("")
    page.get_by_role("button", name="Publish").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Say what you changed and why")
    expect(summary.locator("a")).to_have_count(2)


def _borrow_form_preview(page, live: Live) -> None:
    _visit(f"/entries/{TO_BORROW}/borrow", HEALTH_EDITOR)(page, live)
    page.get_by_label("What we changed and why").fill("Ward teams instead of neighbourhoods.")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()


def _ask_errors(page, live: Live) -> None:
    _visit(f"/entries/{ASK_FIRST}/ask", EASTMARCH_EDITOR)(page, live)
    page.get_by_label("What you would like to do with it").fill("")
    page.get_by_role("button", name="Update your request").click()
    expect(page.locator(".error-summary")).to_contain_text("Say what you would like to do")


def _merge_details_opened(page, live: Live) -> None:
    _visit(f"/entries/{COPY}/upstream/merge", HEALTH_EDITOR)(page, live)
    expect(page.locator(".merge-conflicts")).to_contain_text("3 places where you both changed")
    page.locator("details.conflict-section summary").click()
    expect(page.locator("details.conflict-section")).to_have_attribute("open", "")


def _merge_failed_save(page, live: Live) -> None:
    """Saving with the conflict markers still in: refused, with the error summary."""
    _visit(f"/entries/{COPY}/upstream/merge", HEALTH_EDITOR)(page, live)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Save the merged version").click()
    assert posted.value.status == 400
    expect(page.locator(".error-summary")).to_contain_text("Resolve each conflict in the text")


def _borrow_this_instead(page, live: Live) -> None:
    _visit("/entries/new?kind=guidance", HEALTH_EDITOR)(page, live)
    type_title_and_wait_for_similar(page, "Choosing people to run team accounts")
    expect(page.locator("#similar-entries")).to_contain_text("Borrow this instead")


STATES: dict[str, Callable] = {
    "entry with copies and adoptions, signed out": _visit(
        f"/entries/{SOURCE}", None, "Borrowed by 2 organisations in 2 sectors", "Sign in to borrow"
    ),
    "entry with copies and adoptions, another organisation": _visit(
        f"/entries/{SOURCE}", HEALTH_EDITOR, "Borrow this", "We use this as it is"
    ),
    "entry this organisation uses as it is": _visit(
        f"/entries/{SOURCE}", OAKHURST_EDITOR, "We no longer use this"
    ),
    "copy with the upstream notice opened": _upstream_notice_opened,
    "ask-first entry, for another organisation": _visit(
        f"/entries/{ASK_FIRST}", HEALTH_EDITOR, "Ask to borrow"
    ),
    "ask-first entry with a pending request, for its owners": _visit(
        f"/entries/{ASK_FIRST}", WESTSHIRE_EDITOR, "1 request to borrow this"
    ),
    "ask-first entry, for the organisation that asked": _visit(
        f"/entries/{ASK_FIRST}", EASTMARCH_EDITOR, "You have asked to borrow this"
    ),
    "borrow form": _visit(f"/entries/{TO_BORROW}/borrow", HEALTH_EDITOR, "Credit and licence"),
    "borrow form with errors": _borrow_form_errors,
    "borrow form preview": _borrow_form_preview,
    "ask to borrow": _visit(f"/entries/{ASK_FIRST}/ask", HEALTH_EDITOR, "Send your request"),
    "ask to borrow, already asked": _visit(
        f"/entries/{ASK_FIRST}/ask", EASTMARCH_EDITOR, "You asked on"
    ),
    "ask to borrow with errors": _ask_errors,
    "borrow requests": _visit(
        "/orgs/westshire-fire-rescue/borrow-requests", WESTSHIRE_EDITOR, "Eastmarch Police"
    ),
    "lineage, second generation": _visit(
        f"/entries/{SECOND_GENERATION}/lineage", None, "3 entries in this family"
    ),
    "compare with the original": _visit(
        f"/entries/{SECOND_GENERATION}/what-we-changed", None, "What Oakhurst Schools Trust changed"
    ),
    "merge with conflicts": _merge_details_opened,
    "merge after a failed save": _merge_failed_save,
    "borrowed, with a pending update": _visit(
        "/orgs/glenharrow-health-board/borrowed", HEALTH_EDITOR, "1 original changed"
    ),
    "borrowed, with a changed adoption": _visit(
        "/orgs/oakhurst-schools-trust/borrowed", OAKHURST_EDITOR, "see what changed"
    ),
    "organisation page with borrowing links": _visit(
        "/orgs/westshire-fire-rescue", WESTSHIRE_EDITOR, "Requests to borrow"
    ),
    "sector by sector table": _visit("/borrowing", None, "Who borrows from whom", "Most borrowed"),
    "new entry with borrow this instead": _borrow_this_instead,
    "search, most borrowed first": _visit("/search?sort=most-borrowed", None, "44 results"),
    "search, borrowed by other sectors": _visit(
        "/search?q=accessible&borrowed=other-sectors", None, "Borrowed by other sectors"
    ),
}


@pytest.mark.parametrize("state", list(STATES))
def test_axe_reports_no_violations(browser, live, state):
    """Each state is reached once, then checked at each width (the layout reflows in place)."""
    context, page = open_page(browser, WIDTHS["desktop"])
    STATES[state](page, live)
    found = violations_at_every_width(page)
    context.close()
    assert found == [], f"{state}:\n" + "\n".join(found)


# --- Keyboard ---------------------------------------------------------------------------------

FOCUS_PAGES: dict[str, tuple[str, str | None]] = {
    "entry with the Borrowing panel": (f"/entries/{SOURCE}", HEALTH_EDITOR),
    "copy with the upstream notice": (f"/entries/{COPY}", HEALTH_EDITOR),
    "borrow form": (f"/entries/{TO_BORROW}/borrow", HEALTH_EDITOR),
    "ask to borrow": (f"/entries/{ASK_FIRST}/ask", EASTMARCH_EDITOR),
    "borrow requests": ("/orgs/westshire-fire-rescue/borrow-requests", WESTSHIRE_EDITOR),
    "merge with conflicts": (f"/entries/{COPY}/upstream/merge", HEALTH_EDITOR),
    "lineage": (f"/entries/{SECOND_GENERATION}/lineage", None),
    "borrowed": ("/orgs/glenharrow-health-board/borrowed", HEALTH_EDITOR),
    "sector by sector table": ("/borrowing", None),
}


@pytest.mark.parametrize("where", FOCUS_PAGES)
def test_every_control_shows_visible_focus(browser, live, where):
    path, email = FOCUS_PAGES[where]
    context, page = open_page(browser)
    if email:
        sign_in(page, live, email)
    page.goto(live.url + path)
    total, reached, invisible = tab_through(page)
    context.close()
    assert total > 10 and len(reached) == total, f"reached {len(reached)} of {total} controls"
    assert invisible == [], invisible


def test_borrow_form_by_keyboard_alone(browser, live):
    """From the entry page to a published copy: Tab, typing, Space and Enter only."""
    context, page = open_page(browser)
    sign_in(page, live, HEALTH_EDITOR)
    page.goto(f"{live.url}/entries/{KEYBOARD_SOURCE}")
    title = page.locator("h1").inner_text()
    press_on(page, f"a[href='/entries/{KEYBOARD_SOURCE}/borrow']")
    page.wait_for_url(f"**/entries/{KEYBOARD_SOURCE}/borrow")

    # Publishing without a note: the error summary, whose link takes focus to the note.
    press_on(page, "button[value=publish]")
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Say what you changed and why")
    press_on(page, ".error-summary a[href='#note']")
    assert page.evaluate("document.activeElement.id") == "note"
    assert page.evaluate(FOCUS_STATE)["visible"]
    page.keyboard.type("Lecturers became clinicians; blogs became the staff intranet.")

    tab_to(page, "#title")
    page.keyboard.press("End")
    page.keyboard.type(" for clinicians")
    assert not page.locator("#channels-1").is_checked()  # Facebook
    press_on(page, "#channels-1", "Space")
    assert page.locator("#channels-1").is_checked()
    press_on(page, "button[value=publish]")
    expect(page.locator(".flashes")).to_contain_text("Borrowed and published.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{title} for clinicians")
    expect(page.get_by_role("region", name="Borrowing")).to_contain_text(
        "Lecturers became clinicians"
    )
    context.close()


def test_merge_page_controls_by_keyboard(browser, live):
    """On the merge page: the changes open with Enter, a failed save's summary link moves
    focus to the text, and Cancel goes back to the copy; nothing is saved."""
    context, page = open_page(browser)
    sign_in(page, live, HEALTH_EDITOR)
    page.goto(f"{live.url}/entries/{COPY}")
    press_on(page, ".notice-update summary")
    expect(page.locator(".notice-update details")).to_have_attribute("open", "")
    press_on(page, ".notice-update a[href$='/upstream/merge']")
    page.wait_for_url(f"**/entries/{COPY}/upstream/merge")

    press_on(page, "details.conflict-section summary")
    expect(page.locator("details.conflict-section")).to_have_attribute("open", "")
    press_on(page, "button[value=save]")
    expect(page.locator(".error-summary")).to_contain_text("Resolve each conflict")
    press_on(page, ".error-summary a")
    assert page.evaluate("document.activeElement.id") == "body"
    assert page.evaluate(FOCUS_STATE)["visible"]
    press_on(page, f".entry-form a[href='/entries/{COPY}']")
    page.wait_for_url(f"{live.url}/entries/{COPY}")
    expect(page.locator(".notice-update")).to_be_visible()
    assert borrow_row(live, COPY)[0] == 1
    context.close()
