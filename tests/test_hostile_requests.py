"""Requests that used to crash a page (500): query parameters named like ``url_for``'s own
arguments, integers too large for the database, and two new entries with the same title saved
at the same moment."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from kb.accounts.demo import ADMIN_EMAIL, DEMO_PASSWORD
from kb.db import db
from kb.models import Entry
from tests.editor_support import entry_data
from tests.web import csrf_token, sign_in

ENTRY = "officers-and-staff-posting-openly-on-duty"
RESERVED = ["endpoint", "_scheme", "_anchor", "_external", "_method", "slug", "values"]

# Each page builds links from its query string: a chip to remove a filter, pages of results,
# "did you mean", the breadcrumb back to the search.
PAGES = [
    "/search?q=x",
    "/search?q=polise",  # offers a correction
    "/search?q=posting",  # two pages of results
    "/search?q=police&sector=police&channel=x-twitter",
    "/sectors/police?channel=x-twitter",
    "/channels/x-twitter?sector=police&page=1",
    "/topics/evaluation?kind=guidance",
    "/orgs/eastmarch-police?kind=guidance",
]


@pytest.mark.parametrize("name", RESERVED)
@pytest.mark.parametrize("page", PAGES)
def test_a_query_parameter_named_like_a_url_for_argument_is_ignored(client, page, name):
    response = client.get(f"{page}&{name}=x&{name}=y")
    assert response.status_code == 200
    hrefs = response.text.split('href="')[1:]
    assert not [h for h in hrefs if f"{name}=" in h.split('"')[0]], name


def test_links_keep_the_parameters_a_page_reads(client):
    page = client.get("/search?q=posting&channel=facebook&sort=newest&endpoint=x").text
    assert 'href="/search?q=posting&amp;channel=facebook&amp;sort=newest&amp;page=2"' in page


HUGE = ["99999999999999999999", "2147483648", "-1", "²", "٣", "1" * 5000]


@pytest.mark.parametrize("number", HUGE)
@pytest.mark.parametrize(
    "url",
    [
        f"/entries/{ENTRY}/revisions/{{n}}",
        f"/entries/{ENTRY}/diff/1/{{n}}",
        f"/entries/{ENTRY}/diff/{{n}}/2",
        f"/entries/{ENTRY}/compare?from={{n}}&to=1",
        f"/entries/{ENTRY}/compare?from=1&to={{n}}",
    ],
)
def test_an_integer_too_large_or_not_ascii_is_not_found(client, url, number):
    assert client.get(url.format(n=number)).status_code == 404


@pytest.mark.parametrize("number", HUGE)
@pytest.mark.parametrize(
    "url",
    [
        f"/entries/{ENTRY}/revert/{{n}}",
        "/borrow-requests/{n}/grant",
        "/borrow-requests/{n}/decline",
        "/admin/users/{n}/role",
        "/admin/requests/{n}/approve",
        "/admin/requests/{n}/decline",
        "/orgs/eastmarch-police/members/{n}/approve",
        "/orgs/eastmarch-police/members/{n}/decline",
    ],
)
def test_a_form_posted_to_a_huge_id_is_not_found(catalogue_app, url, number):
    client = catalogue_app.test_client()
    assert sign_in(client, ADMIN_EMAIL, DEMO_PASSWORD).status_code == 302
    data = {"csrf_token": csrf_token(client, "/account"), "role": "editor", "base_revision": number}
    assert client.post(url.format(n=number), data=data).status_code == 404


def test_a_huge_base_revision_is_a_conflict_not_a_crash(catalogue_app):
    client = catalogue_app.test_client()
    assert sign_in(client, ADMIN_EMAIL, DEMO_PASSWORD).status_code == 302
    data = {"csrf_token": csrf_token(client, "/account"), "base_revision": "9" * 30}
    assert client.post(f"/entries/{ENTRY}/revert/1", data=data).status_code == 409


# Two new entries, one title, one moment ------------------------------------------------------


@pytest.mark.parametrize("database_app", ["catalogue_app", "postgres_catalogue_app"])
def test_simultaneous_new_entries_with_one_title_all_get_a_slug(request, database_app):
    app = request.getfixturevalue(database_app)
    writers = 8
    clients = [app.test_client() for _ in range(writers)]
    tokens = []
    for client in clients:
        assert sign_in(client, "editor@eastmarch-police.example", DEMO_PASSWORD).status_code == 302
        tokens.append(csrf_token(client, "/account"))
    start, outcomes = threading.Barrier(writers), []
    data = entry_data(title="Same title at the same moment", similar_dismissed="1")

    def write(client, token) -> None:
        start.wait()
        try:
            response = client.post("/entries/new?kind=guidance", data={**data, "csrf_token": token})
            outcomes.append((response.status_code, response.headers.get("Location")))
        except Exception as error:  # noqa: BLE001 - a crash is the failure being tested
            outcomes.append((500, repr(error)))

    threads = [
        threading.Thread(target=write, args=pair) for pair in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in outcomes] == [302] * writers, outcomes
    locations = {location for _, location in outcomes}
    assert len(locations) == writers
    with app.app_context():
        slugs = set(db.session.scalars(select(Entry.slug).where(Entry.title == data["title"])))
    assert slugs == {location.rsplit("/", 1)[1] for location in locations}
    assert "same-title-at-the-same-moment" in slugs
