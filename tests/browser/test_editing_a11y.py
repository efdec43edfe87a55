"""Accessibility of the editing release in real Chromium: axe-core finds zero violations on
every form and error state at 1280 and 375 px, and the entry form works by keyboard alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from kb.accounts import services
from kb.accounts.demo import ADMIN_EMAIL
from kb.accounts.passwords import hash_password
from kb.db import db, utcnow
from kb.models import Organisation, Sector
from tests.browser.conftest import (
    FOCUS_STATE,
    WIDTHS,
    Live,
    serve,
    tab_through,
    violations_at_every_width,
)
from tests.browser.test_editing import (
    EDITOR,
    FIRST,
    ORG,
    SECOND,
    add_entry,
    edit_directly,
    open_page,
    reach_conflict,
    sign_in,
    stored,
)

PENDING_MEMBER = "Pat Pending"
REQUESTED_ORG = "Riverside Food Bank"
OUTSIDER = "member@eastmarch-police.example"  # approved, but in another organisation


@pytest.fixture(scope="module")
def site(catalogue_db, tmp_path_factory) -> Iterator[SimpleNamespace]:
    """The live server plus what the pages need: an entry with two revisions, someone waiting
    to join ORG, and a request for a new organisation waiting for an admin."""
    for live in serve(catalogue_db, tmp_path_factory):
        slug = add_entry(live, "Checked by axe")
        edit_directly(live, slug, SECOND, SECOND + " Updated later.")
        with live.app.app_context():
            organisation = db.session.scalar(select(Organisation).where(Organisation.slug == ORG))
            sector = db.session.scalar(select(Sector).where(Sector.slug == "third-sector"))
            for email, name, org, new in (
                ("pat@example.org", PENDING_MEMBER, organisation, None),
                ("rio@example.org", "Rio Requester", None, services.NewOrganisation(
                    REQUESTED_ORG, sector, "https://riverside.example")),
            ):  # fmt: skip
                services.register(
                    db.session, email=email, display_name=name,
                    password_hash=hash_password("a long enough password"),
                    organisation=org, new_organisation=new, now=utcnow(),
                )  # fmt: skip
            db.session.commit()
        yield SimpleNamespace(live=live, slug=slug)


def _visit(path: str, email: str | None = None, *, status: int = 200) -> Callable:
    def setup(page, live: Live, slug: str) -> None:
        if email:
            sign_in(page, live, email)
        response = page.goto(live.url + path.format(slug=slug))
        assert response.status == status, path

    return setup


def _submit(path: str, button: str, email: str | None = None, fill: dict | None = None):
    """Fill the fields in ``fill`` (by label) and press ``button``: an error state."""

    def setup(page, live: Live, slug: str) -> None:
        _visit(path, email)(page, live, slug)
        for label, value in (fill or {}).items():
            field = page.get_by_label(label, exact=True)
            if field.evaluate("e => e.tagName") == "SELECT":
                field.select_option(label=value)
            else:
                field.fill(value)
        page.get_by_role("button", name=button).click()
        expect(page.locator(".error-summary")).to_be_visible()

    return setup


def _throttled(page, live: Live, slug: str) -> None:
    """Fail five times with a throwaway email, then try once more: the 429 page."""
    email = "nobody@throwaway.example"
    page.goto(live.url + "/login")
    for _attempt in range(6):
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password", exact=True).fill("not the password")
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.get_by_role("button", name="Sign in").click()
    assert posted.value.status == 429
    expect(page.get_by_role("heading", name="Too many failed attempts")).to_be_visible()


def _preview(page, live: Live, slug: str) -> None:
    _visit("/entries/new?kind=case_study", EDITOR)(page, live, slug)
    page.get_by_label("Title", exact=True).fill("Previewed entry")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()


def _conflict(page, live: Live, slug: str) -> None:
    sign_in(page, live, EDITOR)
    reach_conflict(page, live, slug)
    expect(page.get_by_role("heading", name="Both edits combined")).to_be_visible()


def _members(page, live: Live, slug: str) -> None:
    _visit(f"/orgs/{ORG}/members", EDITOR)(page, live, slug)
    expect(page.get_by_role("button", name=f"Approve {PENDING_MEMBER}")).to_be_visible()


def _admin(page, live: Live, slug: str) -> None:
    _visit("/admin", ADMIN_EMAIL)(page, live, slug)
    expect(page.get_by_role("button", name=f"Approve {REQUESTED_ORG}")).to_be_visible()


def _csrf_failure(page, live: Live, slug: str) -> None:
    """A stale CSRF token on the edit form: the 400 page, which gives the typed text back."""
    _visit("/entries/{slug}/edit", EDITOR)(page, live, slug)
    body = page.get_by_label("Text", exact=True)
    body.fill(body.input_value().replace(FIRST, FIRST + " Not saved."))
    page.locator(".entry-form input[name=csrf_token]").evaluate("e => e.value = 'stale'")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Save changes").click()
    assert posted.value.status == 400
    expect(page.get_by_label("Text", exact=True)).to_contain_text("Not saved.")


STATES: dict[str, Callable] = {
    "login": _visit("/login"),
    "login with errors": _submit("/login", "Sign in", fill={"Email address": "not-an-email"}),
    "login throttled": _throttled,
    "register": _visit("/register"),
    "register with errors": _submit(
        "/register",
        "Create account",
        fill={"Password": "short", "Your organisation": "My organisation is not listed"},
    ),
    "account": _visit("/account", EDITOR),
    "account password errors": _submit(
        "/account", "Change password", EDITOR, {"Current password": "wrong", "Password": "x"}
    ),
    "new entry kind chooser": _visit("/entries/new", EDITOR),
    "new entry form": _visit("/entries/new?kind=case_study", EDITOR),
    "new entry errors": _submit("/entries/new?kind=case_study", "Save draft", EDITOR),
    "preview": _preview,
    "edit form": _visit("/entries/{slug}/edit", EDITOR),
    "conflict": _conflict,
    "history": _visit("/entries/{slug}/history", EDITOR),
    "revision": _visit("/entries/{slug}/revisions/1"),
    "diff": _visit("/entries/{slug}/diff/1/2"),
    "members with one pending": _members,
    "admin": _admin,
    "403 error": _visit("/entries/{slug}/edit", OUTSIDER, status=403),
    "CSRF failure": _csrf_failure,
}


@pytest.mark.parametrize("state", STATES)
def test_axe_reports_no_violations(browser, site, state):
    """Each state is reached once, then checked at each width (the layout reflows in place)."""
    context, page = open_page(browser, WIDTHS["desktop"])
    STATES[state](page, site.live, site.slug)
    found = violations_at_every_width(page)
    context.close()
    assert found == [], f"{state}:\n" + "\n".join(found)


# --- Keyboard ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(site) -> Live:
    return site.live


def tab_to(page, selector: str, limit: int = 250) -> None:
    """Press Tab until the focused element matches ``selector``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"Tab never reached {selector}")


def test_edit_form_can_be_completed_and_submitted_by_keyboard(browser, live):
    slug = add_entry(live, "Keyboard only edit")
    context, page = open_page(browser)
    sign_in(page, live, EDITOR)
    page.goto(f"{live.url}/entries/{slug}/edit")
    tab_to(page, "#title")
    page.keyboard.press("End")
    page.keyboard.type(" by keyboard")
    tab_to(page, "#body")
    page.keyboard.press("Control+End")
    page.keyboard.type("\nA paragraph typed without a mouse.\n")
    assert not page.locator("#channels-1").is_checked()  # Facebook
    tab_to(page, "#channels-1")
    page.keyboard.press("Space")
    tab_to(page, "#edit_summary")
    page.keyboard.type("Typed by keyboard")
    tab_to(page, "button[value=save]")
    page.keyboard.press("Enter")
    expect(page.locator(".flashes")).to_have_text("Saved as revision 2.")
    number, content = stored(live, slug)
    assert number == 2 and content.title == "Keyboard only edit by keyboard"
    assert content.body.endswith("A paragraph typed without a mouse.\n")
    assert content.channels == ("facebook", "x-twitter")
    context.close()


@pytest.mark.parametrize("where", ["edit form", "conflict page"])
def test_every_control_shows_visible_focus(browser, live, where):
    slug = add_entry(live, f"Focus on the {where}")
    context, page = open_page(browser)
    sign_in(page, live, EDITOR)
    if where == "edit form":
        page.goto(f"{live.url}/entries/{slug}/edit")
    else:
        reach_conflict(page, live, slug)
    total, reached, invisible = tab_through(page)
    context.close()
    assert total > 40 and len(reached) == total, f"reached {len(reached)} of {total} controls"
    assert invisible == [], invisible


ERROR_FORMS = {
    "new entry": ("/entries/new?kind=case_study", "Save draft", {"#body": ""}),
    "register": ("/register", "Create account", {"#organisation": "new"}),
    "account password": ("/account", "Change password", {"#password": "short"}),
}


@pytest.mark.parametrize("form", ERROR_FORMS)
def test_error_summary_links_move_focus_to_their_fields(browser, live, form):
    url, button, values = ERROR_FORMS[form]
    context, page = open_page(browser)
    if form != "register":
        sign_in(page, live, EDITOR)
    page.goto(live.url + url)
    for selector, value in values.items():
        if selector == "#organisation":
            page.locator(selector).select_option(value)
        else:
            page.locator(selector).fill(value)
    page.get_by_role("button", name=button).click()
    links = page.locator(".error-summary a")
    expect(links.first).to_be_visible()
    targets = [link.get_attribute("href") for link in links.all()]
    assert len(targets) >= 3, targets
    for index, target in enumerate(targets):
        links.nth(index).focus()
        page.keyboard.press("Enter")
        focused = page.evaluate("'#' + document.activeElement.id")
        assert focused == target, f"{target} left focus on {focused}"
        assert page.evaluate(FOCUS_STATE)["visible"], f"{target} has no visible focus"
    context.close()
