"""What people see when the database refuses a value or cannot be reached, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kb.db import db
from kb.errors import REFUSED, TOO_LONG
from kb.models import Entry
from tests.conftest import make_app
from tests.factories import make_entry, make_organisation
from tests.postgres import Cluster
from tests.web import text

DATABASES = ["catalogue_app", "postgres_catalogue_app"]


def _with_writing_route(app, **fields):
    """A route that saves an entry with ``fields`` without any form checking them first, as
    a path the forms do not guard would."""

    @app.post("/test-write")
    def write():
        organisation = make_organisation(db.session)
        make_entry(db.session, organisation, **fields)
        db.session.commit()
        return "saved"

    app.config["WTF_CSRF_ENABLED"] = False
    return app


def _entries(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Entry.id)))


@pytest.mark.parametrize("database_app", DATABASES)
def test_an_over_long_value_gets_the_same_clear_message_on_both_databases(request, database_app):
    app = _with_writing_route(request.getfixturevalue(database_app), summary="x" * 301)
    before = _entries(app)
    response = app.test_client().post("/test-write", data={"summary": "my words"})
    assert response.status_code == 400
    page = text(response)
    assert TOO_LONG in page and "my words" in page  # what was typed is given back
    assert "Traceback" not in page and "DataError" not in page and "IntegrityError" not in page
    assert _entries(app) == before


@pytest.mark.parametrize("database_app", DATABASES)
def test_a_refused_choice_gets_the_same_message_on_both_databases(request, database_app):
    app = _with_writing_route(request.getfixturevalue(database_app), licence="WTFPL")
    response = app.test_client().post("/test-write")
    assert response.status_code == 400 and REFUSED in text(response)


def test_an_unreachable_database_gets_the_briefly_unavailable_page(tmp_path):
    # Nothing listens on port 9 of loopback: the connection is refused at once.
    app = make_app(tmp_path, "postgresql+psycopg://span@127.0.0.1:9/nowhere")
    client = app.test_client()
    for url in ("/", "/entries/anything", "/sectors", "/orgs"):
        response = client.get(url)
        assert response.status_code == 503, url
        page = text(response)
        assert "Briefly unavailable" in page and "Traceback" not in page, url
        assert response.headers["Retry-After"] == "10"
    app.config["WTF_CSRF_ENABLED"] = False  # so the form reaches the database
    typed = client.post(
        "/login",
        data={"email": "a@b.example", "password": "x" * 12, "body": "a paragraph I wrote"},
    )
    assert typed.status_code == 503 and "a paragraph I wrote" in text(typed)


def test_a_restarted_database_is_survived_without_a_failed_request(
    postgres_catalogue_app, postgres_cluster
):
    cluster = postgres_cluster
    if not isinstance(cluster, Cluster):
        pytest.skip("needs the throwaway cluster the tests start, to restart it")
    client = postgres_catalogue_app.test_client()
    assert client.get("/sectors").status_code == 200  # the pool now holds a connection
    cluster.pause()
    cluster.resume()
    # The pooled connection died with the server; it is replaced before use, not failed on.
    assert client.get("/sectors").status_code == 200
    cluster.pause()
    try:
        for url in ("/sectors", "/search?q=podcast", "/entries/ward-podcast-nurse-recruitment"):
            down = client.get(url)
            assert down.status_code == 503 and "Briefly unavailable" in text(down), url
    finally:
        cluster.resume()
    assert client.get("/sectors").status_code == 200
