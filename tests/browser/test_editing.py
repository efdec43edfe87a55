"""Real Chromium on the editing release: register → approve → write → conflict → history →
revert by clicks and typing, and every XSS vector rendered with the CSP bypassed.

Each module gets its own live server on a fresh copy of the seeded catalogue, so these writes
never reach the other browser tests. axe-core and keyboard checks: test_editing_a11y.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from kb.accounts.demo import ADMIN_EMAIL, DEMO_PASSWORD
from kb.db import db, utcnow
from kb.entries.content import Content, current_content
from kb.entries.editing import new_entry, save_edit
from kb.models import Entry, Organisation, User
from tests.browser.conftest import Live, serve

ORG = "strathbeck-council"
EDITOR = f"editor@{ORG}.example"
FIRST = "The first paragraph says one thing about the pilot."
SECOND = "The second paragraph gives the figures we collected."
BODY = f"## Context\n\n{FIRST}\n\n## Results\n\n{SECOND}\n"
VECTORS = json.loads((Path(__file__).parents[1] / "data/xss/h5sc_vectors.json").read_text())


@pytest.fixture(scope="module")
def live(catalogue_db, tmp_path_factory) -> Iterator[Live]:
    yield from serve(catalogue_db, tmp_path_factory)


def open_page(browser, width: int = 1280, **options):
    context = browser.new_context(viewport={"width": width, "height": 900}, **options)
    return context, context.new_page()


def sign_in(page, live: Live, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(live.url + "/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flashes")).to_contain_text("Signed in as")


def _user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def add_entry(live: Live, title: str, body: str = BODY, summary: str = "A test entry.") -> str:
    """A published case study of ORG, written by its editor, straight into the database."""
    with live.app.app_context():
        organisation = db.session.scalar(select(Organisation).where(Organisation.slug == ORG))
        content = Content(
            title=title, summary=summary, body=body, channels=("x-twitter",), licence="OGL-UK-3.0"
        )
        entry = new_entry(
            db.session, organisation=organisation, author=_user(EDITOR), kind="case_study",
            content=content, status="published", open_to_any_member=False,
            edit_summary="Created", now=utcnow(),
        )  # fmt: skip
        db.session.commit()
        return entry.slug


def _entry(slug: str) -> Entry:
    return db.session.scalar(select(Entry).where(Entry.slug == slug))


def edit_directly(live: Live, slug: str, old: str, new: str) -> None:
    """Someone else saves a new revision that replaces ``old`` with ``new`` in the body."""
    with live.app.app_context():
        entry = _entry(slug)
        content = current_content(entry)
        save_edit(
            db.session, entry, author=_user(ADMIN_EMAIL),
            content=replace(content, body=content.body.replace(old, new, 1)),
            base=entry.current_revision_number, edit_summary="Edited elsewhere", now=utcnow(),
        )  # fmt: skip
        db.session.commit()


def stored(live: Live, slug: str) -> tuple[int, Content]:
    with live.app.app_context():
        entry = _entry(slug)
        return entry.current_revision_number, current_content(entry)


def reach_conflict(page, live: Live, slug: str) -> None:
    """Open the edit form, let someone else save meanwhile, then save: the conflict page."""
    page.goto(f"{live.url}/entries/{slug}/edit")
    body = page.get_by_label("Text", exact=True)
    body.fill(body.input_value().replace(FIRST, FIRST + " Changed here.", 1))
    edit_directly(live, slug, SECOND, SECOND + " Changed elsewhere.")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Someone else saved this entry while you were editing"
    )


# --- 1. The whole journey, by clicks and typing ------------------------------------------------

PASSWORD = "lantern harbour pebble"
MINE = "The first paragraph now says something better about the pilot."
THEIRS = "The second paragraph lists the corrected figures we collected."


def test_journey_from_registering_to_reverting(browser, live):
    email, org_name, title = "sam@lighthouse.example", "Lighthouse Trust", "Lantern walks at dusk"
    context, page = open_page(browser)
    page.goto(live.url + "/")
    page.get_by_role("link", name="Register").click()
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Display name").fill("Sam Writer")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_label("Your organisation").select_option(label="My organisation is not listed")
    page.get_by_label("Organisation name").fill(org_name)
    page.get_by_label("Sector", exact=True).select_option(label="Third sector")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    page.locator("main").get_by_role("link", name="sign in", exact=True).click()
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("main")).to_contain_text(f"You asked for {org_name} to be added")
    expect(page.get_by_role("link", name="New entry")).to_have_count(0)

    # A site admin, in a second browser context, approves the request.
    admin_context, admin = open_page(browser)
    sign_in(admin, live, ADMIN_EMAIL)
    admin.get_by_role("link", name="Admin", exact=True).click()
    admin.get_by_role("button", name=f"Approve {org_name}").click()
    expect(admin.locator(".flashes")).to_contain_text(f"{org_name} has been added")

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".flashes")).to_have_text("You have signed out.")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="New entry").click()
    page.get_by_role("link", name="A case study").click()
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Summary", exact=True).fill("Evening walks that got people talking.")
    page.get_by_label("Text", exact=True).fill(BODY)
    page.get_by_label("Facebook").check()

    page.get_by_role("button", name="Preview").click()
    preview = page.locator("section.preview")
    expect(preview.get_by_role("heading", name="Context")).to_be_visible()
    expect(preview.locator(".prose p").first).to_have_text(FIRST)
    assert "/entries/new" in page.url
    with live.app.app_context():  # nothing saved yet
        assert db.session.scalar(select(func.count()).where(Entry.title == title)) == 0
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".flashes")).to_have_text("Published.")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    slug = page.url.rsplit("/", 1)[1]

    # Two people open the edit form on revision 1; A saves first, B changes another paragraph.
    page.get_by_role("link", name="Edit this entry").click()
    admin.goto(f"{live.url}/entries/{slug}")
    admin.get_by_role("link", name="Edit this entry").click()
    page.get_by_label("Text", exact=True).fill(BODY.replace(FIRST, MINE))
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".flashes")).to_have_text("Saved as revision 2.")
    theirs = BODY.replace(SECOND, THEIRS)
    admin.get_by_label("Text", exact=True).fill(theirs)
    admin.get_by_role("button", name="Save changes").click()
    expect(admin.get_by_role("heading", level=1)).to_contain_text("Someone else saved")
    assert admin.get_by_label("Text", exact=True).input_value() == theirs
    expect(admin.get_by_role("heading", name="Both edits combined")).to_be_visible()
    admin.get_by_role("button", name="Save the combined version").click()
    expect(admin.locator(".flashes")).to_have_text("Saved as revision 3.")
    expect(admin.locator(".entry-body")).to_contain_text(MINE)
    expect(admin.locator(".entry-body")).to_contain_text(THEIRS)
    assert stored(live, slug)[1].body == BODY.replace(FIRST, MINE).replace(SECOND, THEIRS)
    admin_context.close()

    page.get_by_role("link", name="History of this entry").click()
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(3)
    page.get_by_role("link", name="Changes in revision 3").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Changes from revision 2 to 3")
    expect(page.locator(".diff ins", has_text="corrected")).to_have_count(1)
    expect(page.locator(".diff del", has_text="gives")).to_have_count(1)

    page.get_by_role("link", name="History", exact=True).click()
    page.get_by_role("button", name="Revert to this (revision 1)").click()
    expect(page.locator(".flashes")).to_have_text("Reverted to revision 1, saved as revision 4.")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("Reverted to revision 1")
    page.get_by_role("link", name=title).first.click()
    expect(page.locator(".entry-body")).to_contain_text(FIRST)
    expect(page.locator(".entry-body")).to_contain_text(SECOND)
    expect(page.locator(".entry-body")).not_to_contain_text(MINE)
    number, content = stored(live, slug)
    assert number == 4 and content.body == BODY
    context.close()


# --- 2. XSS in real Chromium, with the app's Content-Security-Policy bypassed -------------------

WATCH = """(() => {
  window.__kbRan = [];
  for (const name of ['alert', 'confirm', 'prompt']) {
    const original = window[name];
    window[name] = function (...args) {
      window.__kbRan.push(name);
      return original.apply(window, args);
    };
  }
  window.print = () => window.__kbRan.push('print');
  window.open = () => window.__kbRan.push('open');
  document.write = document.writeln = () => window.__kbRan.push('document.write');
})();"""


class ScriptWatch:
    """Reports any sign that page script ran: a dialog, a wrapped call, an uncaught error, or
    any script compiled in the page's own world from the page's URL (the app ships none)."""

    def __init__(self, context, page) -> None:
        self.page, self.current, self.seen = page, "", []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.seen.append((self.current, "error", str(error))))
        cdp = context.new_cdp_session(page)
        cdp.on("Debugger.scriptParsed", self._script)
        cdp.send("Debugger.enable")
        cdp.send("Debugger.setSkipAllPauses", {"skip": True})

    def _dialog(self, dialog) -> None:
        self.seen.append((self.current, "dialog", f"{dialog.type}({dialog.message})"))
        dialog.dismiss()

    def _script(self, event) -> None:
        if event["executionContextAuxData"].get("isDefault") and event["url"]:
            self.seen.append((self.current, "script", event["url"]))

    def visit(self, label: str, go):
        self.current = label
        result = go()
        self.page.wait_for_timeout(20)
        for call in self.page.evaluate("window.__kbRan || []"):
            self.seen.append((label, "called", call))
        return result


def watched_page(browser, bypass_csp: bool = True):
    context = browser.new_context(bypass_csp=bypass_csp)
    context.add_init_script(WATCH)
    page = context.new_page()
    return context, page, ScriptWatch(context, page)


def test_script_detector_can_fail(browser, live):
    """Without this the vector test could not fail: each detector fires, and bypass_csp is
    what lets injected script run despite the app's real CSP header."""
    slug = add_entry(live, "Detector control")
    inject = '<img src="x" onerror="alert(1)"><script>document.title = "ran"</script>'

    def tampered(route):
        response = route.fetch()
        opening = '<div class="entry-body prose">'
        body = response.text().replace(opening, opening + inject, 1)
        route.fulfill(response=response, body=body)

    context, page, watch = watched_page(browser)
    watch.visit("plain", lambda: page.set_content('<img src="x" onerror="confirm(1)">'))
    watch.visit("print", lambda: page.set_content('<img src="y" onerror="print()">'))
    page.route(f"**/entries/{slug}", tampered)
    watch.visit("app page", lambda: page.goto(f"{live.url}/entries/{slug}"))
    context.close()
    kinds = {(label, kind) for label, kind, _detail in watch.seen}
    assert {("plain", "dialog"), ("print", "called"), ("app page", "dialog")} <= kinds, kinds
    assert ("app page", "script") in kinds, kinds

    context, page, watch = watched_page(browser, bypass_csp=False)
    page.route(f"**/entries/{slug}", tampered)
    watch.visit("with CSP", lambda: page.goto(f"{live.url}/entries/{slug}"))
    context.close()
    assert watch.seen == [], "the app's CSP should block the same injection"


def test_no_xss_vector_runs_script_on_its_entry_page(browser, live):
    slugs = {
        vector["id"]: add_entry(
            live, vector["payload"][:200], body=vector["payload"], summary=vector["payload"][:300]
        )
        for vector in VECTORS
    }
    context, page, watch = watched_page(browser)
    for vector_id, slug in slugs.items():
        url = f"{live.url}/entries/{slug}"
        response = watch.visit(f"vector {vector_id}", lambda url=url: page.goto(url))
        assert response.status == 200, (vector_id, slug)
    page.wait_for_timeout(300)
    context.close()
    assert len(slugs) == len(VECTORS) == 149
    assert watch.seen == [], "\n".join(
        f"{label}: {kind} {detail}" for label, kind, detail in watch.seen
    )
