"""Security by default beyond CSRF, permissions and headers: caching, proxies, size limits,
and forms that cannot be accepted giving back what was typed."""

from __future__ import annotations

import html

from sqlalchemy import delete

from kb.accounts.demo import DEMO_PASSWORD
from kb.db import db
from kb.models import UserSession
from tests.conftest import make_app
from tests.web import csrf_token, signed_in

EDITOR = "editor@eastmarch-police.example"
ENTRY = "/entries/officers-and-staff-posting-openly-on-duty"


def test_pages_for_a_signed_in_person_are_never_cached(catalogue_app):
    anonymous = catalogue_app.test_client().get("/")
    assert "no-store" not in anonymous.headers.get("Cache-Control", "")
    assert (
        signed_in(catalogue_app, EDITOR, DEMO_PASSWORD).get("/").headers["Cache-Control"]
        == "no-store"
    )


def test_an_oversized_request_gets_the_too_large_page(client):
    response = client.post("/login", data={"body": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 413 and "Too large" in response.text


def _fail_sign_in(client, address: str, email: str):
    token = csrf_token(client)
    return client.post(
        "/login",
        data={"csrf_token": token, "email": email, "password": "wrong password here"},
        headers={"X-Forwarded-For": address},
    )


def test_behind_a_trusted_proxy_throttling_sees_the_forwarded_address(catalogue_url, tmp_path):
    app = make_app(tmp_path / "instance", catalogue_url, TRUSTED_PROXIES=1,
                   LOGIN_FAILURES_PER_ADDRESS=3, LOGIN_FIRST_DELAY_SECONDS=600)  # fmt: skip
    client = app.test_client()
    for number in range(3):
        assert _fail_sign_in(client, "203.0.113.7", f"n{number}@x.example").status_code == 400
    assert _fail_sign_in(client, "203.0.113.7", "fresh@x.example").status_code == 429
    assert _fail_sign_in(client, "198.51.100.9", "fresh@x.example").status_code == 400


def test_without_a_trusted_proxy_a_forwarded_address_is_ignored(catalogue_app):
    catalogue_app.config.update(LOGIN_FAILURES_PER_ADDRESS=3, LOGIN_FIRST_DELAY_SECONDS=600)
    client = catalogue_app.test_client()
    for number in range(3):
        # Each claims another address, but they all come from the test client's own.
        assert (
            _fail_sign_in(client, f"203.0.113.{number}", f"n{number}@x.example").status_code == 400
        )
    assert _fail_sign_in(client, "198.51.100.9", "fresh@x.example").status_code == 429


def test_a_person_signed_out_mid_edit_gets_their_text_back(catalogue_app):
    client = signed_in(catalogue_app, EDITOR, DEMO_PASSWORD)
    token = csrf_token(client)
    with catalogue_app.app_context():  # signed out elsewhere: every session of theirs ends
        db.session.execute(delete(UserSession))
        db.session.commit()
    typed = "My careful <paragraph> & notes\nsecond line"
    response = client.post(
        f"{ENTRY}/edit", data={"csrf_token": token, "title": "T", "body": typed, "action": "save"}
    )
    assert response.status_code == 401
    assert typed in html.unescape(response.text)


def test_an_expired_form_gives_back_what_was_typed(catalogue_app):
    client = signed_in(catalogue_app, EDITOR, DEMO_PASSWORD)
    typed = "Text written over a long afternoon"
    response = client.post(f"{ENTRY}/edit", data={"body": typed, "action": "save"})
    assert response.status_code == 400
    assert "This form had expired" in response.text and typed in html.unescape(response.text)
