"""Nobody learns who has an account: registering answers the same for a new and an existing
address (whose owner is told by email), and a forgotten password is reset by an emailed link
that is signed, lasts 30 minutes, works once and signs out every other device."""

from __future__ import annotations

import re
import time
from email import message_from_bytes, policy

import pytest
from itsdangerous import timed

from kb.accounts.demo import DEMO_PASSWORD
from tests.test_accounts import signed_in
from tests.web import csrf_token, sign_in

MEMBER = "member@eastmarch-police.example"
NEW_PASSWORD = "copper lantern midnight ferry"
LINK = re.compile(r"http://localhost/password/reset/(\S+)")


@pytest.fixture
def mailbox(catalogue_app, tmp_path):
    """The folder the app writes its email to; ``read()`` returns the messages so far."""
    folder = tmp_path / "mail"
    catalogue_app.config["MAIL_DIR"] = str(folder)

    class Mailbox:
        def read(self) -> list:
            files = sorted(folder.glob("*.eml")) if folder.exists() else []
            return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]

    return Mailbox()


def post(client, url: str, data: dict, page: str):
    """POST with a CSRF token read from ``page``; the response is closed, which is when any
    email goes (after the answer)."""
    with client.post(url, data={"csrf_token": csrf_token(client, page), **data}) as response:
        response.get_data()
    return response


def register(client, email: str):
    password = "plum kettle saxophone"
    data = {"email": email, "display_name": "Sam Patel", "password": password,
            "confirm": password, "organisation": "eastmarch-police"}  # fmt: skip
    return post(client, "/register", data, "/register")


def ask_for_link(client, email: str):
    return post(client, "/password/forgot", {"email": email}, "/password/forgot")


# Registering ----------------------------------------------------------------------------------


def test_registering_an_existing_address_answers_as_a_new_one(catalogue_app, mailbox):
    new, old = catalogue_app.test_client(), catalogue_app.test_client()
    first = register(new, "newcomer@eastmarch-police.example")
    second = register(old, MEMBER.upper())
    assert first.status_code == second.status_code == 302
    assert first.location == second.location == "/check-your-email"
    assert sorted(h.split("=")[0] for h in first.headers.getlist("Set-Cookie")) == sorted(
        h.split("=")[0] for h in second.headers.getlist("Set-Cookie")
    )
    pages = [client.get("/check-your-email").text for client in (new, old)]
    assert pages[0].replace("newcomer@eastmarch-police.example", "@") == pages[1].replace(
        MEMBER, "@"
    )
    assert "already exists" not in pages[1]
    assert not signed_in(new) and not signed_in(old)
    # The existing account is untouched; its owner hears what happened.
    assert sign_in(old, MEMBER, DEMO_PASSWORD).status_code == 302
    welcome, notice = mailbox.read()
    assert welcome["To"] == "newcomer@eastmarch-police.example"
    assert (
        "Your Span account for newcomer@eastmarch-police.example is ready" in welcome.get_content()
    )
    assert notice["To"] == MEMBER
    assert "Someone tried to create a Span account with this address" in notice.get_content()


def test_a_new_account_signs_in_with_the_password_it_chose(catalogue_app, mailbox):
    client = catalogue_app.test_client()
    register(client, "newcomer@eastmarch-police.example")
    assert (
        sign_in(client, "newcomer@eastmarch-police.example", "plum kettle saxophone").status_code
        == 302
    )


def test_an_address_owner_is_told_at_most_three_times_a_window(catalogue_app, mailbox):
    for _ in range(5):
        register(catalogue_app.test_client(), MEMBER)
    assert len(mailbox.read()) == 3


# A forgotten password -------------------------------------------------------------------------


def _link(mailbox) -> str:
    (message,) = mailbox.read()
    return LINK.search(message.get_content()).group(0).removeprefix("http://localhost")


def test_the_link_answer_is_the_same_for_unknown_addresses(catalogue_app, mailbox):
    known = ask_for_link(catalogue_app.test_client(), MEMBER)
    unknown = ask_for_link(catalogue_app.test_client(), "nobody@eastmarch-police.example")
    assert known.status_code == unknown.status_code == 302
    assert known.location == unknown.location == "/check-your-email"
    assert [m["To"] for m in mailbox.read()] == [MEMBER]


def test_a_reset_link_sets_a_password_once_and_signs_out_other_devices(catalogue_app, mailbox):
    elsewhere = catalogue_app.test_client()
    assert sign_in(elsewhere, MEMBER, DEMO_PASSWORD).status_code == 302
    ask_for_link(catalogue_app.test_client(), MEMBER)
    link = _link(mailbox)
    browser = catalogue_app.test_client()
    form = browser.get(link)
    assert form.status_code == 200 and "Choose a new password" in form.text
    assert form.headers["Referrer-Policy"] == "no-referrer"
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    response = post(browser, link, data, link)
    assert response.status_code == 302 and response.location == "/account"
    assert signed_in(browser) and not signed_in(elsewhere)
    assert sign_in(catalogue_app.test_client(), MEMBER, DEMO_PASSWORD).status_code == 400
    assert sign_in(catalogue_app.test_client(), MEMBER, NEW_PASSWORD).status_code == 302
    again = catalogue_app.test_client().get(link)
    assert again.status_code == 400 and "This link no longer works" in again.text


def test_a_weak_new_password_is_explained_and_the_link_still_works(catalogue_app, mailbox):
    ask_for_link(catalogue_app.test_client(), MEMBER)
    link, browser = _link(mailbox), catalogue_app.test_client()
    response = post(browser, link, {"password": "short", "confirm": "short"}, link)
    assert response.status_code == 400 and "at least 12 characters" in response.text
    assert (
        post(browser, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, link).status_code
        == 302
    )


def test_a_link_expires_after_thirty_minutes(catalogue_app, mailbox, monkeypatch):
    real = time.time
    monkeypatch.setattr(timed.time, "time", lambda: real() - 31 * 60)
    ask_for_link(catalogue_app.test_client(), MEMBER)
    monkeypatch.setattr(timed.time, "time", real)
    response = catalogue_app.test_client().get(_link(mailbox))
    assert response.status_code == 400 and "This link no longer works" in response.text


def test_a_link_dies_when_the_password_changes_another_way(catalogue_app, mailbox):
    ask_for_link(catalogue_app.test_client(), MEMBER)
    link = _link(mailbox)
    client = catalogue_app.test_client()
    sign_in(client, MEMBER, DEMO_PASSWORD)
    data = {"current": DEMO_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert post(client, "/account/password", data, "/account").status_code == 302
    assert catalogue_app.test_client().get(link).status_code == 400


@pytest.mark.parametrize("change", [lambda t: t[:-2] + "xx", lambda t: "x" + t, lambda t: "..."])
def test_a_tampered_link_does_not_work(catalogue_app, mailbox, change):
    ask_for_link(catalogue_app.test_client(), MEMBER)
    token = _link(mailbox).rsplit("/", 1)[1]
    assert catalogue_app.test_client().get(f"/password/reset/{change(token)}").status_code == 400


def test_links_are_sent_at_most_three_times_a_window(catalogue_app, mailbox):
    for _ in range(5):
        ask_for_link(catalogue_app.test_client(), MEMBER)
    assert len(mailbox.read()) == 3


def test_the_sign_in_page_offers_a_reset(client):
    assert 'href="/password/forgot"' in client.get("/login").text
