"""Accessibility of the pages for a forgotten password, "check your email" and an
organisation's name (formerly, locked) in real Chromium: axe-core finds zero violations at
1280 and 375 px, and the forms work by keyboard alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from kb.accounts.demo import ADMIN_EMAIL
from kb.accounts.recovery import reset_token
from kb.db import db, utcnow
from kb.models import Organisation, User
from kb.orgs import names
from tests.browser.conftest import WIDTHS, Live, serve, tab_through, violations_at_every_width
from tests.browser.test_editing import open_page, sign_in

MEMBER = "member@cairnloch-fire-rescue.example"
RENAMED = "tenterfield-homes"  # renamed, then locked, by the fixture below
NEW_PASSWORD = "amber kettle orchard drum"


@pytest.fixture(scope="module")
def live(catalogue_db, tmp_path_factory) -> Iterator[Live]:
    for live in serve(catalogue_db, tmp_path_factory):
        with live.app.app_context():
            organisation = db.session.scalar(
                select(Organisation).where(Organisation.slug == RENAMED)
            )
            names.rename(db.session, organisation, "Tenterfield Housing", by=None, now=utcnow())
            names.set_name_lock(db.session, organisation, True)
            db.session.commit()
        yield live


def reset_link(live: Live, email: str = MEMBER) -> str:
    with live.app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        return f"{live.url}/password/reset/{reset_token(live.app.config['SECRET_KEY'], user)}"


def _visit(path: str, email: str | None = None, *, status: int = 200) -> Callable:
    def setup(page, live: Live) -> None:
        if email:
            sign_in(page, live, email)
        response = page.goto(live.url + path)
        assert response.status == status, path

    return setup


def _submit(path: str, button: str, fill: dict[str, str]) -> Callable:
    def setup(page, live: Live) -> None:
        page.goto(live.url + path)
        for label, value in fill.items():
            page.get_by_label(label, exact=True).fill(value)
        page.get_by_role("button", name=button).click()

    return setup


def _reset_form(page, live: Live) -> None:
    assert page.goto(reset_link(live)).status == 200


def _reset_errors(page, live: Live) -> None:
    _reset_form(page, live)
    page.get_by_label("Password", exact=True).fill("short")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Set the new password").click()
    assert posted.value.status == 400
    expect(page.locator(".error-summary")).to_be_visible()


STATES: dict[str, Callable] = {
    "forgotten password": _visit("/password/forgot"),
    "forgotten password with errors": _submit(
        "/password/forgot", "Send the link", {"Email address": "not an address"}
    ),
    "check your email (link)": _submit(
        "/password/forgot", "Send the link", {"Email address": MEMBER}
    ),
    "check your email (registered)": _submit(
        "/register",
        "Create account",
        {
            "Email address": MEMBER,
            "Display name": "Someone",
            "Password": NEW_PASSWORD,
            "Confirm password": NEW_PASSWORD,
        },
    ),  # fmt: skip
    "choose a new password": _reset_form,
    "choose a new password with errors": _reset_errors,
    "link no longer works": _visit("/password/reset/not-a-real-token", status=400),
    "organisation formerly named": _visit(f"/orgs/{RENAMED}"),
    "locked name, as its editor": _visit(f"/orgs/{RENAMED}/edit", f"editor@{RENAMED}.example"),
    "locked name, as an admin": _visit(f"/orgs/{RENAMED}/edit", ADMIN_EMAIL),
}


@pytest.mark.parametrize("state", STATES)
def test_axe_reports_no_violations(browser, live, state):
    context, page = open_page(browser, WIDTHS["desktop"])
    STATES[state](page, live)
    found = violations_at_every_width(page)
    context.close()
    assert found == [], f"{state}:\n" + "\n".join(found)


def test_a_forgotten_password_is_reset_by_keyboard_alone(browser, live):
    context, page = open_page(browser)
    page.goto(live.url + "/login")
    page.locator("main").get_by_role("link", name="Forgotten your password?").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Forgotten your password?")
    page.keyboard.press("Tab")
    while page.evaluate("document.activeElement.id") != "email":
        page.keyboard.press("Tab")
    page.keyboard.type("member@oakhurst-schools-trust.example")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    page.goto(reset_link(live, "member@oakhurst-schools-trust.example"))
    total, reached, invisible = tab_through(page)
    assert len(reached) == total and invisible == [], (total, reached, invisible)
    page.goto(reset_link(live, "member@oakhurst-schools-trust.example"))
    page.get_by_label("Password", exact=True).focus()
    page.keyboard.type(NEW_PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.type(NEW_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator(".flashes")).to_contain_text("Your new password is set")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    context.close()
