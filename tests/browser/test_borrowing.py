"""Real Chromium on "Borrow this": a health board finds police guidance, adapts it with credit,
the police change their original, and the health board merges the change into its copy, with
the key steps done by keyboard. Also: resolving a merge with conflicts, and "Borrow this
instead" from the new-entry form. axe-core and keyboard checks: test_borrowing_a11y.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from kb.db import db
from kb.entries.content import current_content
from kb.models import Borrow, Entry
from tests.browser.conftest import FOCUS_STATE, Live, serve
from tests.browser.test_editing import open_page, sign_in
from tests.browser.test_editing_a11y import tab_to
from tests.browser.test_search import type_title_and_wait_for_similar

HEALTH = "glenharrow-health-board"
HEALTH_EDITOR = f"editor@{HEALTH}.example"
POLICE_EDITOR = "editor@harrowdale-constabulary.example"

# Reserved for the journey: no copy of it in the seed, so its counts start at nothing.
SOURCE = "choosing-neighbourhood-account-holders"
SOURCE_TITLE = "Choosing the right people to run neighbourhood team accounts"
COPY_TITLE = "Choosing the right people to run ward team social media accounts"
OUR_OLD = "For years we handed accounts to whoever was sergeant at the time"
OUR_NEW = "For years we handed ward accounts to whoever was ward manager at the time"
NOTE = "Swapped sergeants for ward managers, and neighbourhood teams for ward teams."
# A paragraph well away from the one the copy changes, so the merge is clean.
THEIR_OLD = "Technical skills can be taught in an afternoon."
THEIR_NEW = (
    "Technical skills can be taught in an afternoon, at the monthly session our digital "
    "team runs for new account holders."
)

# Seeded copy whose original (Eastmarch Police) changed the same paragraphs: three conflicts.
CONFLICTED = "glenharrow-staff-posting-openly-at-work"


@pytest.fixture(scope="module")
def live(catalogue_db, tmp_path_factory) -> Iterator[Live]:
    yield from serve(catalogue_db, tmp_path_factory)


# --- Helpers ----------------------------------------------------------------------------------


def press_on(page, selector: str, key: str = "Enter") -> None:
    """Tab to ``selector``, check its focus is visible, then press ``key`` on it."""
    tab_to(page, selector)
    state = page.evaluate(FOCUS_STATE)
    assert state and state["visible"], f"{selector} has no visible focus: {state}"
    page.keyboard.press(key)


def replace_by_typing(page, selector: str, old: str, new: str) -> None:
    """In the focused-by-Tab textarea ``selector``, select ``old`` (as Shift+arrows would) and
    type ``new`` over it, key by key."""
    tab_to(page, selector)
    found = page.evaluate(
        """([selector, old]) => {
          const area = document.querySelector(selector);
          const start = area.value.indexOf(old);
          if (start < 0 || document.activeElement !== area) return false;
          area.setSelectionRange(start, start + old.length);
          return true;
        }""",
        [selector, old],
    )
    assert found, f"{old!r} is not in {selector}, or it does not have focus"
    page.keyboard.type(new)


def switch_user(page, live: Live, email: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".flashes")).to_have_text("You have signed out.")
    sign_in(page, live, email)


def borrow_row(live: Live, slug: str) -> tuple[int, str]:
    """The copy's source revision and note, as stored."""
    with live.app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.slug == slug))
        borrow = db.session.scalar(select(Borrow).where(Borrow.entry_id == entry.id))
        return borrow.source_revision, borrow.note


def body_of(live: Live, slug: str) -> str:
    with live.app.app_context():
        return current_content(db.session.scalar(select(Entry).where(Entry.slug == slug))).body


# --- 1. The whole journey ---------------------------------------------------------------------


def test_borrow_adapt_publish_then_merge_the_originals_change(browser, live):
    context, page = open_page(browser)
    sign_in(page, live, HEALTH_EDITOR)

    # Search from the header box, by keyboard, and open the police guidance.
    page.goto(f"{live.url}/orgs/{HEALTH}")
    tab_to(page, "#header-q")
    page.keyboard.type("police guidance choosing neighbourhood account holders")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=police+guidance+choosing+neighbourhood+account+holders")
    first = page.locator(".search-results a").first
    expect(first).to_have_text(SOURCE_TITLE)
    press_on(page, f".search-results a[href='/entries/{SOURCE}']")
    page.wait_for_url(f"{live.url}/entries/{SOURCE}")
    expect(page.get_by_role("heading", level=1)).to_have_text(SOURCE_TITLE)
    expect(page.locator(".byline")).to_contain_text("Harrowdale Constabulary")
    expect(page.locator(".lineage-panel")).to_have_count(0)  # nobody has borrowed it yet

    # "Borrow this", by keyboard: the form comes filled from the original.
    expect(page.get_by_role("link", name="Borrow this guidance")).to_be_visible()
    press_on(page, f".entry-actions a[href='/entries/{SOURCE}/borrow']")
    page.wait_for_url(f"{live.url}/entries/{SOURCE}/borrow")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Borrow {SOURCE_TITLE}")
    expect(page.locator(".borrow-terms blockquote")).to_contain_text(
        f"Adapted from “{SOURCE_TITLE}” (revision 1) by Harrowdale Constabulary"
    )
    expect(page.locator("#title")).to_have_value(SOURCE_TITLE)
    assert OUR_OLD in page.locator("#body").input_value()

    # Adapt it: a new title, our own words in one paragraph, and what we changed and why.
    tab_to(page, "#title")
    page.keyboard.press("Control+A")
    page.keyboard.type(COPY_TITLE)
    tab_to(page, "#note")
    page.keyboard.type(NOTE)
    replace_by_typing(page, "#body", OUR_OLD, OUR_NEW)
    press_on(page, "button[value=publish]")
    expect(page.locator(".flashes")).to_have_text(
        "Borrowed and published. It credits Harrowdale Constabulary."
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(COPY_TITLE)
    copy_url = page.url
    copy = copy_url.rsplit("/", 1)[1]
    assert copy != SOURCE

    # The copy credits the original, with our note, and carries our words.
    panel = page.get_by_role("region", name="Borrowing")
    expect(panel).to_contain_text(f"Adapted from {SOURCE_TITLE} by Harrowdale Constabulary")
    expect(panel.get_by_role("link", name=SOURCE_TITLE)).to_have_attribute(
        "href", f"/entries/{SOURCE}"
    )
    expect(panel).to_contain_text(f"What Glenharrow Health Board changed and why: {NOTE}")
    expect(page.locator(".byline")).to_contain_text("Glenharrow Health Board")
    expect(page.locator(".entry-body")).to_contain_text(OUR_NEW)
    expect(page.locator(".entry-body")).not_to_contain_text(OUR_OLD)
    expect(page.locator(".notice-update")).to_have_count(0)
    assert borrow_row(live, copy) == (1, NOTE)

    # The original now counts its borrower, and links to the copy.
    panel.get_by_role("link", name=SOURCE_TITLE).click()
    page.wait_for_url(f"{live.url}/entries/{SOURCE}")
    source_panel = page.get_by_role("region", name="Borrowing")
    expect(source_panel.get_by_role("link", name="Borrowed by")).to_have_text(
        "Borrowed by 1 organisation in 1 sector"
    )
    expect(source_panel.get_by_role("link", name="Glenharrow Health Board")).to_have_attribute(
        "href", f"/entries/{copy}"
    )
    expect(page.locator("main")).to_contain_text("Your organisation has already borrowed this")

    # Harrowdale's editor changes a paragraph the copy left alone.
    switch_user(page, live, POLICE_EDITOR)
    page.goto(f"{live.url}/entries/{SOURCE}")
    page.get_by_role("link", name="Edit this entry").click()
    replace_by_typing(page, "#body", THEIR_OLD, THEIR_NEW)
    tab_to(page, "#edit_summary")
    page.keyboard.type("Mention the monthly session")
    press_on(page, "button[value=save]")
    expect(page.locator(".flashes")).to_have_text("Saved as revision 2.")
    expect(page.locator(".entry-body")).to_contain_text(THEIR_NEW)
    # Only the copy's own organisation is told about the change.
    page.goto(copy_url)
    expect(page.locator(".notice-update")).to_have_count(0)

    # Back as the health board: the copy says the original has changed, with the diff.
    switch_user(page, live, HEALTH_EDITOR)
    page.goto(copy_url)
    notice = page.get_by_role("region", name="The original has changed since you borrowed it")
    expect(notice).to_contain_text("is now at revision 2; your copy is based on revision 1")
    details = notice.locator("details")
    expect(details).not_to_have_attribute("open", "")
    press_on(page, ".notice-update summary")
    expect(details).to_have_attribute("open", "")
    expect(details.locator("ins").first).to_be_visible()
    expect(details.locator("ins", has_text="monthly session")).to_have_count(1)

    # Merge them, by keyboard: no conflicts, ours and theirs both in the proposal.
    press_on(page, ".notice-update a[href$='/upstream/merge']")
    page.wait_for_url(f"{copy_url}/upstream/merge")
    expect(page.get_by_role("heading", level=1)).to_have_text("Merge the original's changes")
    expect(page.locator(".merge-conflicts")).to_have_count(0)
    expect(page.locator(".error-summary")).to_have_count(0)
    merged = page.locator("#body").input_value()
    assert OUR_NEW in merged and THEIR_NEW in merged and "<<<<<<<" not in merged
    expect(page.locator("#title")).to_have_value(COPY_TITLE)
    ours = page.get_by_role("region", name="What merging changes in your copy")
    expect(ours.locator("ins", has_text="monthly session")).to_have_count(1)
    press_on(page, "button[value=save]")
    expect(page.locator(".flashes")).to_have_text(
        "Merged. Your copy now includes the original's changes up to its revision 2."
    )

    # The copy has both changes, and the notice has gone.
    expect(page.get_by_role("heading", level=1)).to_have_text(COPY_TITLE)
    body = page.locator(".entry-body")
    expect(body).to_contain_text(THEIR_NEW)
    expect(body).to_contain_text(OUR_NEW)
    expect(body).not_to_contain_text(OUR_OLD)
    expect(page.locator(".notice-update")).to_have_count(0)
    expect(page.get_by_role("region", name="Borrowing")).to_contain_text(
        "Adapted from " + SOURCE_TITLE + " by Harrowdale Constabulary (Police), revision 2"
    )
    assert borrow_row(live, copy) == (2, NOTE)
    stored = body_of(live, copy)
    assert THEIR_NEW in stored and OUR_NEW in stored and OUR_OLD not in stored
    assert THEIR_OLD not in body_of(live, SOURCE).replace(THEIR_NEW, "")
    context.close()


# --- 2. A merge with conflicts: save refused with the markers in, then resolved ----------------

OURS_STATS = "Under the old policy we had 17 work accounts across the board."
THEIRS_STATS = "Two years after this one we have 171"


def resolve_conflicts_by_typing(page) -> int:
    """Keep our side of each conflict: select each marked block and type our lines over it."""
    resolved = 0
    while True:
        tab_to(page, "#body")
        block = page.evaluate(
            """() => {
              const area = document.activeElement, text = area.value;
              const start = text.indexOf('<<<<<<< Your copy\\n');
              if (start < 0) return null;
              const middle = text.indexOf("\\n======= The original's version\\n", start);
              const end = text.indexOf('\\n', text.indexOf('>>>>>>> The original', middle)) + 1;
              area.setSelectionRange(start, end);
              return text.slice(start + '<<<<<<< Your copy\\n'.length, middle + 1);
            }"""
        )
        if block is None:
            return resolved
        page.keyboard.type(block)
        resolved += 1


def test_merge_with_conflicts_is_refused_until_the_markers_are_resolved(browser, live):
    context, page = open_page(browser)
    sign_in(page, live, HEALTH_EDITOR)
    page.goto(f"{live.url}/orgs/{HEALTH}/borrowed")
    expect(page.locator("main")).to_contain_text("1 original changed since you borrowed it")
    press_on(page, f"a[href='/entries/{CONFLICTED}/upstream/merge']")
    page.wait_for_url(f"**/entries/{CONFLICTED}/upstream/merge")
    conflicts = page.locator(".merge-conflicts")
    expect(conflicts.get_by_role("heading", level=2)).to_have_text(
        "3 places where you both changed the same words"
    )
    assert page.locator("#body").input_value().count("<<<<<<< Your copy") == 3

    # Saving with the markers left in keeps the copy as it was and says why.
    press_on(page, "button[value=save]")
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Resolve each conflict in the text")
    expect(page).to_have_title(re.compile(r"^Error: "))
    assert borrow_row(live, CONFLICTED)[0] == 1
    assert "<<<<<<<" not in body_of(live, CONFLICTED)
    press_on(page, ".error-summary a")
    assert page.evaluate("document.activeElement.id") == "body"

    assert resolve_conflicts_by_typing(page) == 3
    merged = page.locator("#body").input_value()
    assert "<<<<<<<" not in merged and ">>>>>>>" not in merged and "=======" not in merged
    assert OURS_STATS in merged and THEIRS_STATS not in merged
    press_on(page, "button[value=save]")
    expect(page.locator(".flashes")).to_have_text(
        "Merged. Your copy now includes the original's changes up to its revision 2."
    )
    expect(page.locator(".notice-update")).to_have_count(0)
    expect(page.locator(".entry-body")).to_contain_text(OURS_STATS)
    assert borrow_row(live, CONFLICTED)[0] == 2
    page.goto(f"{live.url}/orgs/{HEALTH}/borrowed")
    expect(page.locator("main")).not_to_contain_text("changed since you borrowed")
    expect(page.locator(".data-table").first).to_contain_text("Up to date")
    context.close()


# --- 3. "Borrow this instead" while writing a new entry --------------------------------------

TYPED = "Keeping officers' team accounts safe online"
SIMILAR = "Keeping regulatory officers and their team accounts safe online"
SIMILAR_SLUG = "millbridge-securing-officer-team-accounts"  # CC BY-SA 4.0


def test_borrow_this_instead_opens_the_borrow_form_in_a_new_tab(browser, live):
    context, page = open_page(browser)
    sign_in(page, live, HEALTH_EDITOR)
    page.goto(live.url + "/entries/new?kind=guidance")
    type_title_and_wait_for_similar(page, TYPED)
    region = page.locator("#similar-entries")
    link = region.get_by_role("link", name=f"Borrow this instead (“{SIMILAR}”, opens in a new tab)")
    expect(link).to_have_attribute("target", "_blank")
    with context.expect_page() as opened:
        link.click()
    form = opened.value
    form.wait_for_load_state()
    assert form.url == f"{live.url}/entries/{SIMILAR_SLUG}/borrow"
    expect(form.get_by_role("heading", level=1)).to_have_text(f"Borrow {SIMILAR}")
    expect(form.locator("#title")).to_have_value(SIMILAR)
    # A share-alike original: the copy must keep the same terms.
    expect(form.locator(".borrow-terms")).to_contain_text("must carry the same licence")
    assert page.url == f"{live.url}/entries/new?kind=guidance"
    expect(page.locator("#title")).to_have_value(TYPED)
    context.close()


def test_ask_to_borrow_it_instead_leads_to_the_ask_page(browser, live):
    """An "ask before reusing" entry among the suggestions: the link asks its owners first."""
    title = "On-call firefighters as recruitment ambassadors in their own villages"
    context, page = open_page(browser)
    sign_in(page, live, HEALTH_EDITOR)
    page.goto(live.url + "/entries/new?kind=case_study")
    type_title_and_wait_for_similar(page, "On-call firefighters as recruitment ambassadors")
    link = page.locator("#similar-entries").get_by_role(
        "link", name=f"Ask to borrow it instead (“{title}”, opens in a new tab)"
    )
    with context.expect_page() as opened:
        link.click()
    ask = opened.value
    ask.wait_for_load_state()
    assert ask.url == f"{live.url}/entries/westshire-on-call-recruitment-ambassadors/ask"
    expect(ask.get_by_role("heading", level=1)).to_have_text(f"Ask to borrow {title}")
    expect(ask.get_by_role("button", name="Send your request")).to_be_visible()
    context.close()
