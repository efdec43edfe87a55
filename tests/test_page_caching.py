"""HTTP caching of public pages: validators and 304s for anonymous readers, pages shared by
workers through the page store, and what must never be cached or shared."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select, update
from werkzeug.http import http_date

from kb.caching import versions
from kb.db import db, utcnow
from kb.models import CatalogueState, Entry
from kb.search import get_index
from kb.search.folders import APPLY_LOCK, file_lock
from tests.conftest import dispose, make_app
from tests.editor_support import Page, entry_data, send, slug_from
from tests.factories import make_entry
from tests.notify_support import follow_through_page
from tests.web import signed_in

PUBLIC = ["/", "/sectors/police", "/channels/x-twitter", "/orgs", "/search?q=zebracrossing"]


def version(app) -> int:
    with app.app_context():
        return versions.current(db.session)[0]


def stored_pages(app) -> list[bytes]:
    folder = Path(app.config["PAGE_CACHE_DIR"])
    return [path.read_bytes() for path in folder.rglob("*") if path.is_file()]


@contextmanager
def statements(app):
    """The SQL statements the app's engine runs meanwhile."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def edit(app, user, slug: str, **changes):
    client = signed_in(app, user)
    form = Page(client.get(f"/entries/{slug}/edit").text).form("/edit")
    for name, value in changes.items():
        form[name] = value
    form["action"] = form.get("action", "save")
    response = send(client, f"/entries/{slug}/edit", form)
    assert response.status_code == 302, response.text[:1000]
    return client


@pytest.fixture
def published(catalogue_app, store, org):
    entry = make_entry(store, org, slug="cached-entry", title="Night shift questions")
    store.commit()
    return entry


def settle(app) -> None:
    """Move the catalogue's last change a minute back, as if nothing had changed since."""
    with app.app_context():
        db.session.execute(
            update(CatalogueState).values(changed_at=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()


def test_anonymous_pages_carry_validators_and_answer_304(catalogue_app, published):
    settle(catalogue_app)
    client = catalogue_app.test_client()
    for path in [*PUBLIC, "/entries/cached-entry"]:
        first = client.get(path)
        assert first.status_code == 200, path
        assert first.headers["Cache-Control"] == "public, max-age=60"
        assert "Cookie" in first.headers["Vary"]
        assert "Set-Cookie" not in first.headers
        again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.data == b"", path
        since = client.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]})
        assert since.status_code == 304, path


def test_a_save_changes_the_entry_page_etag_and_the_cached_search_pages(
    catalogue_app, published, editor
):
    client = catalogue_app.test_client()
    before = client.get("/entries/cached-entry")
    nothing = client.get("/search?q=zebracrossing")
    assert "Night shift questions" not in nothing.text
    assert client.get("/search?q=zebracrossing").data == nothing.data  # from the store now

    edit(catalogue_app, editor, "cached-entry", title="Zebracrossing questions at night")

    after = client.get("/entries/cached-entry", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    assert "Zebracrossing questions at night" in after.text
    found = client.get("/search?q=zebracrossing")
    assert "/entries/cached-entry" in found.text  # the title has its match marked


def test_a_stored_page_is_served_by_another_worker_with_one_query(catalogue_app, published):
    rendered = catalogue_app.test_client().get("/entries/cached-entry")
    other = make_app(
        Path(catalogue_app.instance_path), catalogue_app.config["DATABASE_URL"],
        SEARCH_INDEX_DIR=catalogue_app.config["SEARCH_INDEX_DIR"],
        PAGE_CACHE_DIR=catalogue_app.config["PAGE_CACHE_DIR"],
    )  # fmt: skip
    try:
        other.test_client().get("/healthz")  # its first request catches the index up
        with statements(other) as seen:
            served = other.test_client().get("/entries/cached-entry")
        assert served.data == rendered.data
        assert len(seen) == 1, seen  # the catalogue's version, nothing else
    finally:
        dispose(other)


def test_signed_in_pages_are_never_shared_or_answered_304(catalogue_app, published, member):
    anonymous = catalogue_app.test_client().get("/entries/cached-entry")
    client = signed_in(catalogue_app, member)
    for path in [*PUBLIC, "/entries/cached-entry"]:
        page = client.get(path, headers={"If-None-Match": anonymous.headers["ETag"]})
        assert page.status_code == 200, path
        assert page.headers["Cache-Control"] == "no-store"
        assert "ETag" not in page.headers
    assert not any(b"Morgan Member" in page for page in stored_pages(catalogue_app))
    assert not any(b"Sign out" in page for page in stored_pages(catalogue_app))


def test_drafts_never_reach_a_cache_anonymous_readers_can_hit(catalogue_app, published, member):
    reader = catalogue_app.test_client()
    etags = {path: reader.get(path).headers["ETag"] for path in PUBLIC}
    moved_from = version(catalogue_app)
    client = signed_in(catalogue_app, member)
    slug = slug_from(send(client, "/entries/new", entry_data(title="Zebracrossing draft plan")))
    edit(catalogue_app, member, slug, summary="Still a Zebracrossing draft.")
    assert f"/entries/{slug}" in client.get("/search?q=zebracrossing").text

    assert version(catalogue_app) == moved_from  # nothing public changed
    for path, etag in etags.items():
        assert reader.get(path, headers={"If-None-Match": etag}).status_code == 304, path
    assert f"/entries/{slug}" not in reader.get("/search?q=zebracrossing").text
    assert reader.get(f"/entries/{slug}").status_code == 404
    assert not any(slug.encode() in page for page in stored_pages(catalogue_app))
    assert not any(b"draft plan" in page for page in stored_pages(catalogue_app))


def test_the_version_moves_for_public_changes_only(catalogue_app, store, published, editor):
    start = version(catalogue_app)
    follow_through_page(catalogue_app, editor, "sector", "police")
    assert version(catalogue_app) == start  # following is private
    published.summary = "Rolled back."
    store.flush()
    store.rollback()
    assert version(catalogue_app) == start
    edit(catalogue_app, editor, "cached-entry", summary="A public change.")
    assert version(catalogue_app) == start + 1
    archived = send(signed_in(catalogue_app, editor), "/entries/cached-entry/archive", {})
    assert archived.status_code == 302
    assert version(catalogue_app) == start + 2


def test_search_pages_are_not_stored_while_the_index_lags(catalogue_app, store, published):
    client = catalogue_app.test_client()
    client.get("/healthz")
    folder = get_index_folder(catalogue_app)
    make_entry(store, published.organisation, slug="while-busy", title="Zebracrossing busy")
    store.commit()  # outside a request: nothing catches the index up but a search
    with file_lock(folder / APPLY_LOCK, timeout=5) as held:
        assert held
        lagging = client.get("/search?q=zebracrossing")
    assert lagging.status_code == 200
    assert lagging.headers["Cache-Control"] == "no-cache" and "ETag" not in lagging.headers
    assert not any(b"zebracrossing" in page for page in stored_pages(catalogue_app))
    assert "/entries/while-busy" in client.get("/search?q=zebracrossing").text


def get_index_folder(app) -> Path:
    with app.app_context():
        return get_index().live_folder()


def test_a_save_behind_the_unit_of_work_moves_the_version_for_public_entries_only(
    catalogue_app, store, org, published, editor
):
    make_entry(store, org, slug="a-draft", status="draft")
    store.commit()
    start = version(catalogue_app)
    # Only "open to any member" changes: the editor's conditional UPDATE, nothing else.
    edit(catalogue_app, editor, "a-draft", open_to_any_member="y")
    assert version(catalogue_app) == start
    edit(catalogue_app, editor, "cached-entry", open_to_any_member="y")
    assert version(catalogue_app) == start + 1
    page = catalogue_app.test_client().get("/entries/cached-entry")
    assert "any member" in page.text


def test_readers_never_keep_a_stale_page_while_many_save_at_once(catalogue_app, store, org, editor):
    """Six editors save one entry while four readers fetch it and search for it, in
    threads: the version moves once per save that committed, nobody gets a 500, and once the
    saves stop every reader gets the last summary, straight away and from the store."""
    make_entry(store, org, slug="busy-entry", title="Busy entry", summary="Summary 0.")
    store.commit()
    start = version(catalogue_app)
    saved, problems = [], []
    stop = threading.Event()

    # Signed in one after another: six sign-ins to one account at once would rightly meet
    # the sign-in throttle's limit of five attempts in flight.
    editors = [signed_in(catalogue_app, editor) for _ in range(6)]

    def save(n: int) -> None:
        client = editors[n]
        for attempt in range(3):
            form = Page(client.get("/entries/busy-entry/edit").text).form("/edit")
            form["summary"], form["action"] = f"Summary {n}-{attempt}.", "save"
            response = send(client, "/entries/busy-entry/edit", form)
            if response.status_code == 302:
                saved.append(n)
            elif response.status_code != 409:  # a conflict is an answer, not a failure
                problems.append(("save", response.status_code))

    def read() -> None:
        client = catalogue_app.test_client()
        while not stop.is_set():
            for path in ("/entries/busy-entry", "/search?q=busy", "/"):
                status = client.get(path).status_code
                if status != 200:
                    problems.append((path, status))

    readers = [threading.Thread(target=read) for _ in range(4)]
    savers = [threading.Thread(target=save, args=(n,)) for n in range(6)]
    for thread in readers + savers:
        thread.start()
    for thread in savers:
        thread.join(timeout=120)
    stop.set()
    for thread in readers:
        thread.join(timeout=60)

    assert problems == []
    assert saved and version(catalogue_app) == start + len(saved)
    with catalogue_app.app_context():
        latest = db.session.scalar(select(Entry.summary).where(Entry.slug == "busy-entry"))
    reader = catalogue_app.test_client()
    for _ in range(2):  # rendered, then from the store
        assert latest in reader.get("/entries/busy-entry").text


def test_a_date_is_given_only_once_no_later_change_can_share_its_second(
    catalogue_app, published, editor
):
    settle(catalogue_app)
    client = catalogue_app.test_client()
    settled = client.get("/entries/cached-entry").headers["Last-Modified"]
    edit(catalogue_app, editor, "cached-entry", summary="Changed once.")
    fresh = client.get("/entries/cached-entry")
    assert "Last-Modified" not in fresh.headers  # another change may still come this second
    edit(catalogue_app, editor, "cached-entry", summary="Changed twice.")
    for since in (settled, http_date(utcnow())):
        again = client.get("/entries/cached-entry", headers={"If-Modified-Since": since})
        assert again.status_code == 200 and "Changed twice." in again.text
