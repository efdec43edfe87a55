"""Real Chromium: a health board member follows the Police sector by keyboard; a police editor
publishes; the member's header shows one unread, the inbox links to the entry, and the email
was written. axe-core finds nothing on the inbox, the following list and the email
preferences at 1280 and 375 px, and each works by keyboard alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from playwright.sync_api import expect

from kb.accounts.demo import DEMO_PASSWORD
from tests.browser.conftest import Live, serve, tab_through, violations_at_every_width
from tests.browser.test_editing import open_page, sign_in

MEMBER = "member@glenharrow-health-board.example"
POLICE_EDITOR = "editor@eastmarch-police.example"
TITLE = "Neighbourhood beat meetings streamed live"
BODY = (
    "## Context\n\nWe streamed three beat meetings.\n\n## Results\n\nMore people asked questions.\n"
)


@pytest.fixture(scope="module")
def live(catalogue_db, tmp_path_factory) -> Iterator[Live]:
    for server in serve(catalogue_db, tmp_path_factory):
        # As the running site does: email goes out from a background thread.
        server.app.config.update(MAIL_SEND_IN_BACKGROUND=True, MAIL_POLL_SECONDS=1)
        yield server
        server.app.extensions["kb.mail.sender"].stop()


def _follow_police_by_keyboard(page, live: Live) -> None:
    page.goto(f"{live.url}/sectors/police")
    follow = page.get_by_role("button", name="Follow Police")
    follow.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".flashes")).to_contain_text("You follow Police")
    expect(page.get_by_role("button", name="Following Police")).to_have_attribute(
        "aria-pressed", "true"
    )


def _publish_as_police(browser, live: Live) -> str:
    context, page = open_page(browser)
    sign_in(page, live, POLICE_EDITOR, DEMO_PASSWORD)
    page.goto(f"{live.url}/entries/new?kind=guidance")
    page.get_by_label("Title", exact=True).fill(TITLE)
    page.get_by_label("Summary", exact=True).fill("Three meetings, streamed, with questions.")
    page.get_by_label("Text", exact=True).fill(BODY)
    page.get_by_label("Facebook").check()
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".flashes")).to_have_text("Published.")
    slug = page.url.rsplit("/", 1)[1]
    context.close()
    return slug


def test_follow_publish_and_be_told(browser, live):
    context, page = open_page(browser)
    sign_in(page, live, MEMBER, DEMO_PASSWORD)
    _follow_police_by_keyboard(page, live)
    expect(page.locator(".count-badge")).to_have_count(0)

    slug = _publish_as_police(browser, live)
    page.goto(f"{live.url}/about")
    badge = page.get_by_role("link", name="Notifications 1 unread")
    expect(badge).to_be_visible()
    badge.click()
    item = page.locator(".notification-unread")
    expect(item).to_contain_text(f"Eastmarch Police published “{TITLE}”")
    item.get_by_role("link", name="Read it").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    assert page.url.endswith(f"/entries/{slug}")

    mail = Path(live.app.config["MAIL_DIR"])
    deadline = time.monotonic() + 15
    while not any(TITLE in _text(path) for path in mail.glob("*.eml")):
        assert time.monotonic() < deadline, f"no email was written in {sorted(mail.glob('*'))}"
        time.sleep(0.2)
    context.close()


def _text(path: Path) -> str:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    return message.get_body(("plain",)).get_content()


PAGES = {
    "inbox": "/notifications",
    "following": "/account/following",
    "preferences": "/account/notifications",
}


@pytest.mark.parametrize("name", PAGES)
def test_axe_and_keyboard_on_each_page(browser, live, name):
    context, page = open_page(browser)
    sign_in(page, live, MEMBER, DEMO_PASSWORD)
    page.goto(f"{live.url}{PAGES[name]}")
    found = violations_at_every_width(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    total, reached, invisible = tab_through(page)
    context.close()
    assert found == [], "\n".join(found)
    assert len(reached) == total and invisible == [], (total, reached, invisible)


def test_preferences_and_mark_all_read_work_by_keyboard(browser, live):
    context, page = open_page(browser)
    sign_in(page, live, MEMBER, DEMO_PASSWORD)
    page.goto(f"{live.url}/account/notifications")
    page.get_by_label("Once a week, in one email").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Save preferences").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".flashes")).to_contain_text("preferences are saved")
    expect(page.get_by_label("Once a week, in one email")).to_be_checked()
    page.goto(f"{live.url}/notifications")
    if page.get_by_role("button", name="Mark all read").count():
        page.get_by_role("button", name="Mark all read").focus()
        page.keyboard.press("Enter")
        expect(page.locator(".flashes")).to_contain_text("marked read")
    expect(page.locator(".count-badge")).to_have_count(0)
    context.close()
