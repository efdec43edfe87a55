"""The search index follows the database: after saves, rollbacks, busy locks, crashes,
concurrent workers, every write path, gaps in the change log and rebuilds.

Real SQLite files, a real Whoosh index on disk and real processes; nothing is mocked.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time

import pytest
from sqlalchemy import func, select
from whoosh import query as Q
from whoosh.writing import SegmentWriter

from kb.accounts.demo import ADMIN_EMAIL, DEMO_PASSWORD
from kb.db import db
from kb.models import Entry, SearchChange
from kb.permissions import PUBLIC_STATUSES
from kb.search.index import SearchIndex
from tests.conftest import dispose, make_app
from tests.editor_support import Page, entry_by_slug, entry_data, slug_from
from tests.search_support import drift, finish, found, index_of, spawn
from tests.web import csrf_token, sign_in

SLUG = "coastal-storm-evacuation-social-media-response"  # Eastmarch Police's
EDITOR = "editor@eastmarch-police.example"


def client_for(app, email: str):
    client = app.test_client()
    assert sign_in(client, email, DEMO_PASSWORD).status_code == 302
    return client


def post(client, url: str, data) -> object:
    data = dict(data) if not hasattr(data, "getlist") else data
    data["csrf_token"] = csrf_token(client, "/about")
    return client.post(url, data=data)


def edit_form(client, slug: str, **changes):
    form = Page(client.get(f"/entries/{slug}/edit").text).form("/edit")
    form["action"] = "save"
    for name, value in changes.items():
        form[name] = value
    return form


def log_size(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(SearchChange.id)))


# 1-2: saves in this process ------------------------------------------------------------------


def test_an_edit_through_the_form_is_searchable_straight_away(catalogue_app):
    assert drift(catalogue_app).clean
    client = client_for(catalogue_app, EDITOR)
    assert found(client, "zeppelinish") == []
    form = edit_form(client, SLUG, title="Zeppelinish storm evacuation updates")
    form["body"] += "\n\nWe also tried quokkaphone briefings.\n"
    assert post(client, f"/entries/{SLUG}/edit", form).status_code == 302
    # Nothing has searched since the save: the after-request catch-up brought the index up to date.
    assert drift(catalogue_app).clean
    assert found(client, "zeppelinish") == [SLUG]
    assert found(client, "quokkaphone") == [SLUG]


def test_a_save_replaces_its_document_without_opening_the_index_again(catalogue_app, monkeypatch):
    """Applying a save reads the public index with the process's open searcher and deletes
    the entry's old document by its number; Whoosh's own update would open every segment of
    the index again to look the id up (most of a save's reading)."""
    opened = []
    searcher = SegmentWriter.searcher

    def counting(writer, **kwargs):
        opened.append(writer)
        return searcher(writer, **kwargs)

    monkeypatch.setattr(SegmentWriter, "searcher", counting)
    client = client_for(catalogue_app, EDITOR)
    form = edit_form(client, SLUG, title="Zeppelinish storm evacuation updates")
    assert post(client, f"/entries/{SLUG}/edit", form).status_code == 302
    assert opened == []
    assert drift(catalogue_app).clean
    assert found(client, "zeppelinish") == [SLUG]


def test_a_rolled_back_save_never_reaches_the_index(catalogue_app):
    with catalogue_app.app_context():
        session = db.session
        last = session.scalar(select(func.max(SearchChange.id)))
        entry = entry_by_slug(session, SLUG, refresh=False)
        old_title = entry.title
        entry.title = "Vanishingword storm evacuation"
        session.flush()
        # Log rows are written as the transaction commits, so a flush alone writes none.
        assert session.scalar(select(func.count()).where(SearchChange.id > last)) == 0
        session.rollback()
        assert session.scalar(select(func.count()).where(SearchChange.id > last)) == 0
        assert index_of(catalogue_app).catch_up() == 0
    client = catalogue_app.test_client()
    assert found(client, "vanishingword") == []
    assert SLUG in found(client, f'"{old_title}"')
    assert drift(catalogue_app).clean


# 3-5: other processes ------------------------------------------------------------------------


def test_a_save_while_another_process_holds_the_writer_lock(catalogue_app):
    client = client_for(catalogue_app, EDITOR)
    form = edit_form(client, SLUG, title="Lockstepped storm evacuation updates")
    holder = spawn("hold-lock", catalogue_app.config["SEARCH_INDEX_DIR"])
    try:
        assert holder.stdout.readline().strip() == "locked", holder.stderr.read()
        started = time.monotonic()
        response = post(client, f"/entries/{SLUG}/edit", form)
        elapsed = time.monotonic() - started
        assert response.status_code == 302
        # It waited for the lock (SEARCH_WRITER_TIMEOUT) but not much longer.
        assert catalogue_app.config["SEARCH_WRITER_TIMEOUT"] <= elapsed < 2
        waiting = drift(catalogue_app)
        assert waiting.pending and len(waiting.stale) == 1  # committed, not yet applied
        assert found(client, "lockstepped") == []  # searches still answer meanwhile
    finally:
        finish(holder, "release\n")
    assert holder.returncode == 0
    assert found(client, "lockstepped") == [SLUG]  # the next search caught up
    assert drift(catalogue_app).clean


def test_a_process_killed_between_commit_and_index_write(catalogue_app, tmp_path):
    instance, database = tmp_path / "instance", catalogue_app.config["DATABASE_URL"]
    index_of(catalogue_app)  # this process is already running when its sibling dies
    dying = spawn("save-and-die", instance, database, SLUG, "Phoenixfeather storm evacuation")
    out, err = finish(dying, timeout=60)
    assert dying.returncode == -signal.SIGKILL, out + err
    with catalogue_app.app_context():
        entry = entry_by_slug(db.session, SLUG, refresh=False)
        assert entry.title == "Phoenixfeather storm evacuation"  # committed
        entry_id = entry.id
    check = catalogue_app.test_cli_runner().invoke(args=["index-check"])
    assert check.exit_code == 1
    assert f"1 stale (entry ids {entry_id})" in check.stderr
    assert re.search(r"^  \d+ changes not yet applied$", check.stderr, re.M)

    restarted = make_app(instance, database)  # the next start
    try:
        assert found(restarted.test_client(), "phoenixfeather") == [SLUG]
        again = restarted.test_cli_runner().invoke(args=["index-check"])
        assert again.exit_code == 0, again.output
        assert "Search index matches the database." in again.output
    finally:
        dispose(restarted)


def test_two_worker_processes_saving_at_once_leave_the_index_clean(catalogue_app, tmp_path):
    with catalogue_app.app_context():
        slugs = db.session.scalars(select(Entry.slug).order_by(Entry.id)).all()
    own_a, own_b, shared = slugs[0:12], slugs[12:24], slugs[24]
    plans = {"a": [*own_a[:4], shared, *own_a[4:8], shared, *own_a[8:], shared],
             "b": [*own_b[:4], shared, *own_b[4:8], shared, *own_b[8:], shared]}  # fmt: skip
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    args = (tmp_path / "instance", catalogue_app.config["DATABASE_URL"], barrier)
    workers = {name: spawn("worker", *args, name, *plan) for name, plan in plans.items()}
    try:
        deadline = time.monotonic() + 30
        while not all((barrier / f"{name}.ready").exists() for name in workers):
            assert time.monotonic() < deadline, "workers did not start"
            assert all(w.poll() is None for w in workers.values())
            time.sleep(0.01)
        (barrier / "go").touch()
    finally:
        outputs = {name: finish(worker, timeout=60) for name, worker in workers.items()}
    summaries = {}
    for name, worker in workers.items():
        assert worker.returncode == 0, outputs[name]
        summaries[name] = json.loads(outputs[name][0])
        assert summaries[name]["saved"] + summaries[name]["conflicts"] == 15
        assert summaries[name]["saved"] >= 12  # its own entries never conflict
    state = drift(catalogue_app)  # no catch-up after the workers' own
    client = catalogue_app.test_client()
    assert len(found(client, "zqa", archived="1")) >= 12  # (this search catches up)
    assert len(found(client, "zqb", archived="1")) >= 12
    assert drift(catalogue_app).clean
    # Whoever applies checks the log again after letting go, so a save that found the index
    # busy is applied by the holder: clean with no catch-up beyond the workers' own.
    assert state.clean, (state, summaries)


# 6: every write path records its change ------------------------------------------------------


def test_every_entry_write_path_is_recorded_and_applied(catalogue_app):
    admin = client_for(catalogue_app, ADMIN_EMAIL)
    anonymous = catalogue_app.test_client()
    before = log_size(catalogue_app)

    new = entry_data(title="Wildebeest wayfinding posts", organisation="eastmarch-police",
                     similar_dismissed="1", action="draft")  # fmt: skip
    slug = slug_from(post(admin, "/entries/new?kind=guidance", new))
    assert log_size(catalogue_app) > before and drift(catalogue_app).clean
    assert found(anonymous, "wildebeest") == []  # a draft

    form = edit_form(admin, slug, title="Okapi wayfinding posts")
    assert post(admin, f"/entries/{slug}/edit", form).status_code == 302
    assert drift(catalogue_app).clean

    published = edit_form(admin, slug, action="publish")  # status only: no new revision
    assert post(admin, f"/entries/{slug}/edit", published).status_code == 302
    assert drift(catalogue_app).clean
    assert found(anonymous, "okapi") == [slug] and found(anonymous, "wildebeest") == []

    assert post(admin, f"/entries/{slug}/archive", {}).status_code == 302
    assert drift(catalogue_app).clean
    assert found(anonymous, "okapi") == [] and found(anonymous, "okapi", archived="1") == [slug]

    assert post(admin, f"/entries/{slug}/restore", {}).status_code == 302
    assert drift(catalogue_app).clean
    assert found(anonymous, "okapi") == [slug]

    assert post(admin, f"/entries/{slug}/revert/1", {"base_revision": "2"}).status_code == 302
    assert drift(catalogue_app).clean
    assert found(anonymous, "wildebeest") == [slug] and found(anonymous, "okapi") == []


def _entries_of(app, condition) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(Entry.slug).where(condition)))


def test_renaming_an_organisation_reindexes_its_entries(catalogue_app):
    admin = client_for(catalogue_app, ADMIN_EMAIL)
    profile = {"name": "Eastmarch Capybara Service", "contact": "press@eastmarch.example.org"}
    assert post(admin, "/orgs/eastmarch-police/edit", profile).status_code == 302
    assert drift(catalogue_app).clean
    owned = _entries_of(catalogue_app, Entry.organisation.has(slug="eastmarch-police"))
    assert owned and set(found(admin, "capybara", archived="1")) == owned


@pytest.mark.parametrize(
    ("kind", "slug", "link"),
    [("sectors", "police", "relevant_sectors"), ("channels", "facebook", "channels"),
     ("topics", "evaluation", "topics")],
)  # fmt: skip
def test_renaming_a_taxonomy_term_reindexes_its_entries(catalogue_app, kind, slug, link):
    admin = client_for(catalogue_app, ADMIN_EMAIL)
    response = post(admin, f"/admin/taxonomy/{kind}/{slug}", {"name": "Narwhalry"})
    assert response.status_code == 302
    assert drift(catalogue_app).clean
    tagged = _entries_of(catalogue_app, getattr(Entry, link).any(slug=slug))
    if kind == "sectors":
        tagged |= _entries_of(catalogue_app, Entry.origin_sector.has(slug=slug))
    assert tagged and set(found(admin, "narwhalry", archived="1")) == tagged


# 8: rebuilding while searching ---------------------------------------------------------------


def test_a_rebuild_swaps_the_index_under_running_searches(catalogue_app):
    root = catalogue_app.config["SEARCH_INDEX_DIR"]
    with catalogue_app.app_context():
        engine = db.engine
        total = db.session.scalar(
            select(func.count(Entry.id)).where(Entry.status.in_(PUBLIC_STATUSES))
        )  # drafts are indexed apart, by organisation
    reader, builder = SearchIndex(root, engine), SearchIndex(root, engine)  # two "processes"
    first = reader.live_folder()
    counts, errors, stop = [], [], threading.Event()

    def keep_searching() -> None:
        while not stop.is_set():
            try:
                with reader.reading() as snapshot:
                    counts.append(len(snapshot.searcher.search(Q.Every(), limit=None)))
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

    searching = threading.Thread(target=keep_searching)
    with reader.reading() as held:  # a request still reading the old index throughout
        searching.start()
        try:
            report = builder.rebuild()
            time.sleep(0.05)
        finally:
            stop.set()
            searching.join()
        assert held.folder == first and not held.searcher.is_closed
        assert len(held.searcher.search(Q.Every(), limit=None)) == total
    assert held.searcher.is_closed  # closed once the last reader let go
    assert errors == [] and counts and set(counts) == {total}
    assert report.documents == total and report.folder != first
    with reader.reading() as after:
        assert after.folder == report.folder
        assert len(after.searcher.search(Q.Every(), limit=None)) == total

    second = builder.rebuild().folder
    assert {f.name for f in first.parent.glob("index-*")} == {report.folder.name, second.name}
    reader.close()
