"""Signing in and out: the login form, cookies, server-side sessions, throttling, the account page.

Database work happens in short app contexts of its own (see tests/test_accounts.py for why).
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import select, update

from kb.accounts.demo import ADMIN_EMAIL, DEMO_PASSWORD
from kb.config import UnsafeConfigError
from kb.db import utcnow
from kb.models import Organisation, User, UserSession
from tests.conftest import dispose, make_app
from tests.factories import TEST_PASSWORD, make_entry, make_user
from tests.test_accounts import control, database, signed_in, submit, summary_links, text
from tests.web import csrf_token, sign_in

MEMBER = "member@eastmarch-police.example"
EDITOR = "editor@eastmarch-police.example"
WRONG = "not the right password"
NEW_PASSWORD = "violet harbour lantern"
ERROR = "The email address or password is not right."


@pytest.fixture
def build_app(catalogue_app, tmp_path):
    """More apps on the catalogue app's database file, as other worker processes would be."""
    url = catalogue_app.config["DATABASE_URL"]
    built = []

    def build(**overrides):
        built.append(make_app(tmp_path / f"instance-{len(built)}", url, **overrides))
        return built[-1]

    yield build
    for app in built:
        dispose(app)


def cookies(client) -> dict[str, str]:
    """The values of ``client``'s session and remember cookies, as someone copying them would."""
    found = {name: client.get_cookie(name) for name in ("session", "remember_token")}
    return {name: cookie.value for name, cookie in found.items() if cookie is not None}


def replay(app, values: dict[str, str]):
    """A fresh browser carrying copied cookie values."""
    client = app.test_client()
    for name, value in values.items():
        client.set_cookie(name, value)
    return client


def set_cookie_header(response, name: str) -> list[str]:
    """The attributes of the Set-Cookie header for ``name``, lower-cased."""
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers.getlist("Set-Cookie")
    return [part.strip() for part in headers[0].split(";")[1:]]


def session_rows(app, email: str) -> list[UserSession]:
    with database(app) as session:
        return list(session.scalars(select(UserSession).join(User).where(User.email == email)))


# The login form ---------------------------------------------------------------------------------


def _problems(response) -> str:
    page = response.get_data(as_text=True)
    summary = re.search(r'<div class="error-summary".*?</div>', page, re.S).group(0)
    return summary + "".join(re.findall(r'<p class="field-error".*?</p>', page))


def test_wrong_password_and_unknown_email_look_the_same(catalogue_app, client):
    wrong = sign_in(client, MEMBER, WRONG)
    unknown = sign_in(client, "nobody@eastmarch-police.example", WRONG)
    for response in (wrong, unknown):
        assert response.status_code == 400
        page = text(response)
        assert ERROR in page and "<title>Error: " in page and WRONG not in page
        assert summary_links(response.get_data(as_text=True)) == {"password": ERROR}
    assert _problems(wrong) == _problems(unknown)
    assert not signed_in(client)
    assert session_rows(catalogue_app, MEMBER) == []


@pytest.mark.parametrize("email", [ADMIN_EMAIL, EDITOR, MEMBER, "Member@EastMarch-Police.EXAMPLE"])
def test_sign_in_redirects_to_the_account_page(catalogue_app, client, email):
    response = sign_in(client, email, DEMO_PASSWORD)
    assert response.status_code == 302 and response.location == "/account"
    page = text(client.get("/account"))
    assert email.lower() in page and "Signed in as Sample" in page
    assert len(session_rows(catalogue_app, email.lower())) == 1


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/entries/new", "/entries/new"),
        ("/orgs/eastmarch-police?sort=title", "/orgs/eastmarch-police?sort=title"),
        ("https://evil.example/account", "/account"),
        ("//evil.example/account", "/account"),
        ("/\\evil.example", "/account"),
        ("javascript:alert(1)", "/account"),
        ("evil.example/account", "/account"),
    ],
)
def test_next_is_followed_only_within_the_site(client, target, expected):
    data = {"csrf_token": csrf_token(client), "email": EDITOR, "password": DEMO_PASSWORD}
    response = client.post("/login", query_string={"next": target}, data=data)
    assert response.status_code == 302 and response.location == expected


def test_logout_only_accepts_post(client):
    sign_in(client, MEMBER, DEMO_PASSWORD)
    assert client.get("/logout").status_code == 405
    assert signed_in(client)
    response = submit(client, "/logout")
    assert response.status_code == 302 and response.location == "/"
    assert not signed_in(client)


# Cookies and server-side sessions ---------------------------------------------------------------


def test_cookies_are_http_only_lax_and_secure_outside_debug(catalogue_app, client):
    response = sign_in(client, MEMBER, DEMO_PASSWORD, remember=True)
    for name in ("session", "remember_token"):
        attributes = set_cookie_header(response, name)
        assert {"HttpOnly", "SameSite=Lax", "Secure"} <= set(attributes), name
    expires = next(a for a in set_cookie_header(response, "remember_token") if "Expires=" in a)
    expires_at = parsedate_to_datetime(expires.partition("=")[2])
    assert utcnow() + timedelta(days=29) < expires_at <= utcnow() + timedelta(days=30)


@pytest.mark.parametrize("overrides", [{"SECURE_COOKIES": False}, {"DEBUG": True}])
def test_cookies_are_not_secure_when_turned_off_or_in_debug(build_app, overrides):
    client = build_app(**overrides).test_client()
    response = sign_in(client, MEMBER, DEMO_PASSWORD, remember=True)
    for name in ("session", "remember_token"):
        attributes = set_cookie_header(response, name)
        assert {"HttpOnly", "SameSite=Lax"} <= set(attributes) and "Secure" not in attributes


def test_no_remember_cookie_without_remember_me(client):
    response = sign_in(client, MEMBER, DEMO_PASSWORD)
    assert set_cookie_header(response, "session")
    assert not [h for h in response.headers.getlist("Set-Cookie") if "remember_token=" in h]


@pytest.mark.parametrize(
    "remember, lifetime", [(True, timedelta(days=30)), (False, timedelta(hours=12))]
)
def test_server_side_session_lifetime(catalogue_app, client, remember, lifetime):
    before = utcnow()
    sign_in(client, MEMBER, DEMO_PASSWORD, remember=remember)
    after = utcnow()
    (row,) = session_rows(catalogue_app, MEMBER)
    assert row.expires_at - row.created_at == lifetime <= timedelta(days=30)
    assert before + lifetime <= row.expires_at <= after + lifetime


def test_config_refuses_remember_me_longer_than_30_days(tmp_path):
    with pytest.raises(UnsafeConfigError, match="REMEMBER_DAYS"):
        make_app(tmp_path, tmp_path / "x.sqlite", REMEMBER_DAYS=31)
    allowed = make_app(tmp_path, tmp_path / "x.sqlite", REMEMBER_DAYS=30)
    assert allowed.config["REMEMBER_DAYS"] == 30
    dispose(allowed)


def test_signed_out_cookies_cannot_be_replayed(catalogue_app, client):
    sign_in(client, MEMBER, DEMO_PASSWORD, remember=True)
    copied = cookies(client)
    assert set(copied) == {"session", "remember_token"}
    parts = [copied, {"session": copied["session"]}, {"remember_token": copied["remember_token"]}]
    assert all(signed_in(replay(catalogue_app, values)) for values in parts)  # copies work now
    assert submit(client, "/logout").status_code == 302
    assert not signed_in(client)
    assert session_rows(catalogue_app, MEMBER) == []
    for values in parts:
        assert not signed_in(replay(catalogue_app, values)), set(values)


def test_signing_out_one_device_leaves_the_other_signed_in(catalogue_app):
    phone, laptop = catalogue_app.test_client(), catalogue_app.test_client()
    sign_in(phone, MEMBER, DEMO_PASSWORD)
    sign_in(laptop, MEMBER, DEMO_PASSWORD, remember=True)
    assert submit(phone, "/logout").status_code == 302
    assert not signed_in(phone)
    assert signed_in(laptop)
    assert len(session_rows(catalogue_app, MEMBER)) == 1


def test_password_change_signs_out_every_other_copy(catalogue_app):
    here, there = catalogue_app.test_client(), catalogue_app.test_client()
    sign_in(here, MEMBER, DEMO_PASSWORD, remember=True)
    sign_in(there, MEMBER, DEMO_PASSWORD, remember=True)
    old_here = cookies(here)
    assert signed_in(there) and signed_in(replay(catalogue_app, old_here))
    data = {"current": DEMO_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert submit(here, "/account/password", data).status_code == 302
    assert signed_in(here)
    assert not signed_in(there)
    assert not signed_in(replay(catalogue_app, old_here))
    assert not signed_in(replay(catalogue_app, {"remember_token": old_here["remember_token"]}))
    assert len(session_rows(catalogue_app, MEMBER)) == 1


@pytest.mark.parametrize("remember", [False, True])
def test_expired_server_side_session_is_rejected(catalogue_app, client, remember):
    sign_in(client, MEMBER, DEMO_PASSWORD, remember=remember)
    copied = cookies(client)
    assert signed_in(client)
    with database(catalogue_app) as session:
        past = utcnow() - timedelta(minutes=1)
        session.execute(update(UserSession).values(expires_at=past))
        session.commit()
    assert not signed_in(client)
    assert not signed_in(replay(catalogue_app, copied))


def test_sign_out_in_one_process_is_seen_by_another(catalogue_app, build_app, client):
    sign_in(client, MEMBER, DEMO_PASSWORD, remember=True)
    other = replay(build_app(), cookies(client))
    assert signed_in(other)
    assert submit(client, "/logout").status_code == 302
    assert not signed_in(other)


# Throttling: tests/test_throttle.py.


# The account page: password and drafts ---------------------------------------------------------


def _sign_in_status(app, email: str, password: str) -> int:
    return sign_in(app.test_client(), email, password).status_code


BAD_CHANGES = [
    pytest.param({"current": "not my password"}, "current", "Your current password is not right",
                 id="wrong-current"),
    pytest.param({"current": ""}, "current", "Enter your current password", id="no-current"),
    pytest.param({"password": "too short", "confirm": "too short"}, "password",
                 "at least 12 characters", id="too-short"),
    pytest.param({"password": "password1234", "confirm": "password1234"}, "password",
                 "too easy to guess", id="common"),
    pytest.param({"password": "member of eastmarch", "confirm": "member of eastmarch"},
                 "password", "must not contain your email", id="contains-email"),
    pytest.param({"confirm": NEW_PASSWORD + "!"}, "confirm", "do not match", id="mismatch"),
]  # fmt: skip


@pytest.mark.parametrize("changes, field_id, message", BAD_CHANGES)
def test_password_change_errors_change_nothing(catalogue_app, client, changes, field_id, message):
    sign_in(client, MEMBER, DEMO_PASSWORD)
    data = {"current": DEMO_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    response = submit(client, "/account/password", {**data, **changes})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    links = summary_links(page)
    assert list(links) == [field_id] and message in html.unescape(links[field_id])
    assert 'aria-invalid="true"' in control(page, field_id)
    assert DEMO_PASSWORD not in page and NEW_PASSWORD not in page
    assert signed_in(client)
    assert _sign_in_status(catalogue_app, MEMBER, DEMO_PASSWORD) == 302
    assert _sign_in_status(catalogue_app, MEMBER, {**data, **changes}["password"]) == 400


def test_password_change_takes_effect(catalogue_app, client):
    sign_in(client, MEMBER, DEMO_PASSWORD)
    data = {"current": DEMO_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    response = submit(client, "/account/password", data)
    assert response.status_code == 302 and response.location == "/account"
    assert "Your password has been changed." in text(client.get("/account"))
    assert _sign_in_status(catalogue_app, MEMBER, NEW_PASSWORD) == 302
    assert _sign_in_status(catalogue_app, MEMBER, DEMO_PASSWORD) == 400


def test_account_page_lists_the_organisation_drafts_for_approved_members(catalogue_app):
    with database(catalogue_app) as session:
        eastmarch = session.scalar(
            select(Organisation).where(Organisation.slug == "eastmarch-police")
        )
        make_entry(session, eastmarch, title="Unpublished winter roads plan", status="draft")
        make_entry(session, eastmarch, title="Published flood advice", status="published")
        pending = make_user(session, eastmarch, approved=False).email
        session.commit()

    def drafts_seen_by(email: str, password: str = DEMO_PASSWORD) -> str:
        client = catalogue_app.test_client()
        assert sign_in(client, email, password).status_code == 302
        page = client.get("/account").get_data(as_text=True)
        return page.partition('id="drafts-heading"')[2].partition("</section>")[0]

    for email in (MEMBER, EDITOR):
        section = drafts_seen_by(email)
        assert "Unpublished winter roads plan" in section
        assert "Published flood advice" not in section
    for email, password in [
        (pending, TEST_PASSWORD),
        ("member@strathbeck-council.example", DEMO_PASSWORD),
    ]:
        assert drafts_seen_by(email, password) == ""
