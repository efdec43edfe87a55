"""Helpers for tests that talk HTTP through Flask's test client: CSRF tokens and signing in."""

from __future__ import annotations

import html
import re

from tests.factories import TEST_PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, url: str | None = None) -> str:
    """A valid CSRF token for ``client``'s session, read from a page with a form (the login
    page, or the account page once signed in)."""
    response = client.get(url or "/login")
    if url is None and response.status_code == 302:
        response = client.get("/account")
    match = CSRF.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def sign_in(client, email: str, password: str = TEST_PASSWORD, *, remember: bool = False):
    """Sign ``client`` in through the real login form; returns the response."""
    data = {"csrf_token": csrf_token(client), "email": email, "password": password}
    if remember:
        data["remember"] = "y"
    return client.post("/login", data=data)


def signed_in(app, person, password: str = TEST_PASSWORD):
    """A test client signed in through the login form as ``person`` (a user, or an email
    address; None for nobody), with its CSRF token in ``client.csrf``. Its first page after
    signing in is fetched, so the "Signed in" message is shown and gone."""
    client = app.test_client()
    if person is None:
        client.csrf = csrf_token(client, "/login")
        return client
    email = person if isinstance(person, str) else person.email
    response = sign_in(client, email, password)
    assert response.status_code == 302, f"{email} could not sign in: {response.status_code}"
    client.csrf = csrf_token(client, "/about")
    return client


def post(client, url: str, data: dict | None = None, **kwargs):
    """POST with a fresh CSRF token added."""
    return client.post(url, data={"csrf_token": csrf_token(client), **(data or {})}, **kwargs)


def text(response) -> str:
    """The response body with HTML entities decoded."""
    return html.unescape(response.get_data(as_text=True))


def summary_links(page: str) -> dict[str, str]:
    """The error summary's links: field id → message."""
    box = re.search(r'<div class="error-summary".*?</div>', page, re.S)
    assert box, "no error summary"
    return dict(re.findall(r'<li><a href="#([^"]+)">([^<]+)</a></li>', box.group(0)))
