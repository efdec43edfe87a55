"""The index stays an exact projection of the database: through gaps in the change log,
rolled-back writes, commits racing each other, injected duplicates, and two replicas of the
index on one database, one of them away while the other prunes the log.

Each runs on SQLite and on PostgreSQL (a throwaway cluster), where ids taken by a rolled-back
transaction leave real gaps and two transactions can commit in either order.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session
from whoosh import index as whoosh_index

from kb.db import db, utcnow
from kb.models import Entry, SearchChange, SearchReplica
from kb.search.changes import write_log
from kb.search.check import check
from kb.search.documents import load_documents
from kb.search.index import SearchIndex
from tests.search_support import edit, found, index_of

DATABASES = ["catalogue_app", "postgres_catalogue_app"]


@pytest.fixture(params=DATABASES, ids=["sqlite", "postgresql"])
def any_app(request):
    return request.getfixturevalue(request.param)


def _session(app) -> Session:
    return app.extensions["kb.db"]()


def _retitle(app, slug: str, title: str) -> None:
    with app.app_context():
        session = db.session
        edit(session, session.scalar(select(Entry).where(Entry.slug == slug)), title=title)
        session.commit()


def _slugs(app, count: int) -> list[str]:
    with app.app_context():
        return db.session.scalars(
            select(Entry.slug).where(Entry.status == "published").order_by(Entry.id).limit(count)
        ).all()


def _clean(app) -> None:
    drift = check(index_of(app))
    assert drift.clean, drift
    result = app.test_cli_runner().invoke(args=["index-check"])
    assert result.exit_code == 0, result.output


def _generation(index: SearchIndex) -> tuple:
    return index.readers.generation(index.live_folder(), None)


def test_a_rolled_back_write_between_two_saves(any_app):
    """Save X, roll back a write that had taken a log id, save Y, catch up: on PostgreSQL the
    rolled-back id is a gap; neither it nor anything else may index an entry twice."""
    index = index_of(any_app)
    first, rolled_back, second = _slugs(any_app, 3)
    _retitle(any_app, first, "Xylophone outreach for first saves")
    session = _session(any_app)
    try:
        entry = session.scalar(select(Entry).where(Entry.slug == rolled_back))
        edit(session, entry, title="Quagmire never happened")
        write_log(session)  # the log id is taken ...
        session.rollback()  # ... and the transaction never commits
    finally:
        session.close()
    _retitle(any_app, second, "Xylophone outreach for second saves")
    assert index.catch_up() is not None
    client = any_app.test_client()
    assert sorted(found(client, "xylophone")) == sorted([first, second])
    assert found(client, "quagmire") == []
    _clean(any_app)


def test_a_gap_in_the_log_is_stepped_over_and_searches_write_nothing(any_app):
    index = index_of(any_app)
    first, second = _slugs(any_app, 2)
    with any_app.app_context():
        ids = dict(
            db.session.execute(
                select(Entry.slug, Entry.id).where(Entry.slug.in_([first, second]))
            ).all()
        )
    base = index.applied()
    with index.engine.begin() as connection:  # ids base+1 and base+3 never arrive
        connection.execute(
            update(Entry).where(Entry.id == ids[first]).values(title="Gapfiller one")
        )
        connection.execute(
            update(Entry).where(Entry.id == ids[second]).values(title="Gapfiller two")
        )
        connection.execute(insert(SearchChange), [
            {"id": base + 2, "entry_id": ids[first], "recorded_at": utcnow()},
            {"id": base + 4, "entry_id": ids[second], "recorded_at": utcnow()},
        ])  # fmt: skip
    assert index.catch_up() == 2 and index.applied() == base + 4
    before = _generation(index)
    client = any_app.test_client()
    for _ in range(20):
        assert client.get("/search", query_string={"q": "gapfiller"}).status_code == 200
    assert _generation(index) == before  # searching never writes to the index
    assert sorted(found(client, "gapfiller")) == sorted([first, second])
    _clean(any_app)


def test_commits_in_the_other_order_than_their_log_ids_cannot_skip_a_change(any_app):
    """A takes a log id and has not committed; B saves meanwhile. B must not become visible
    ahead of A (the index would step past A's id and never apply it): it waits for A."""
    index = index_of(any_app)
    slug_a, slug_b = _slugs(any_app, 2)
    session_a = _session(any_app)
    committed: dict[str, float] = {}
    try:
        edit(session_a, session_a.scalar(select(Entry).where(Entry.slug == slug_a)),
             title="Ordering aardvark")  # fmt: skip
        write_log(session_a)  # A holds its log id, uncommitted

        def save_b() -> None:
            _retitle(any_app, slug_b, "Ordering bandicoot")
            committed["b"] = time.monotonic()

        saving = threading.Thread(target=save_b)
        saving.start()
        time.sleep(1.0)
        assert saving.is_alive(), "B committed while A still held an earlier log id"
        applied = index.applied()
        index.catch_up()
        assert index.applied() == applied  # nothing new is visible yet
        committed["a"] = time.monotonic()
        session_a.commit()
    finally:
        session_a.close()
    saving.join(timeout=30)
    assert committed["a"] < committed["b"]
    index.catch_up()
    client = any_app.test_client()
    assert found(client, "aardvark") == [slug_a] and found(client, "bandicoot") == [slug_b]
    _clean(any_app)


def test_a_duplicate_document_is_reported(catalogue_app):
    index = index_of(catalogue_app)
    slug = _slugs(catalogue_app, 1)[0]
    with catalogue_app.app_context():
        entry_id = db.session.scalar(select(Entry.id).where(Entry.slug == slug))
    with index.engine.connect() as connection:
        document = load_documents(connection, [entry_id])[entry_id]
    writer = whoosh_index.open_dir(str(index.live_folder() / "public")).writer()
    writer.add_document(**document.fields)  # a second copy, as the old catch-up could make
    writer.commit()
    assert check(index).duplicates == [entry_id]
    result = catalogue_app.test_cli_runner().invoke(args=["index-check"])
    assert result.exit_code == 1
    assert f"  1 duplicated (entry ids {entry_id})\n" in result.stderr


def test_a_document_for_an_entry_no_longer_public_is_reported(catalogue_app):
    """A draft (or an entry withdrawn to draft) found in the public index is a leak."""
    index = index_of(catalogue_app)
    slug = _slugs(catalogue_app, 1)[0]
    with index.engine.begin() as connection:  # behind the log's back
        connection.execute(update(Entry).where(Entry.slug == slug).values(status="draft"))
        entry_id = connection.scalar(select(Entry.id).where(Entry.slug == slug))
    drift = check(index)
    assert drift.misplaced == [entry_id]
    result = catalogue_app.test_cli_runner().invoke(args=["index-check"])
    assert result.exit_code == 1
    assert f"1 in the wrong index (drafts and public apart) (entry ids {entry_id})" in result.stderr


# -- two replicas on one database ---------------------------------------------------------------


def _age_log(index: SearchIndex) -> None:
    with index.engine.begin() as connection:
        connection.execute(update(SearchChange).values(recorded_at=utcnow() - timedelta(days=2)))


def test_a_replica_stopped_while_another_prunes_catches_up(any_app, tmp_path):
    index = index_of(any_app)
    other_root = tmp_path / "other-host" / "search"
    other = SearchIndex(other_root, index.engine)
    other.ensure()  # registers itself
    other.close()  # ... and stops
    first, second = _slugs(any_app, 2)
    _retitle(any_app, first, "Quokka relay while away")
    _retitle(any_app, second, "Quokka relay still away")
    _age_log(index)
    assert any_app.test_cli_runner().invoke(args=["optimize"]).exit_code == 0
    with index.engine.connect() as connection:
        kept = connection.scalar(select(func.count()).where(SearchChange.id > other.applied()))
    assert kept >= 2  # what the stopped replica still needs was kept

    restarted = SearchIndex(other_root, index.engine)
    assert restarted.catch_up() >= 2
    assert check(restarted).clean
    restarted.close()


def test_a_replica_away_too_long_rebuilds_itself(any_app, tmp_path, caplog):
    index = index_of(any_app)
    other_root = tmp_path / "other-host" / "search"
    other = SearchIndex(other_root, index.engine)
    other.ensure()
    name, left_at = Path(other_root / "replica.json").read_text(), other.applied()
    other.close()
    first, second = _slugs(any_app, 2)
    _retitle(any_app, first, "Wombat bulletin while gone")
    _retitle(any_app, second, "Wombat bulletin gone longer")
    _age_log(index)
    with index.engine.begin() as connection:  # not seen for longer than replicas are awaited
        connection.execute(update(SearchReplica).where(SearchReplica.location.contains(str(other_root)))
                           .values(seen_at=utcnow() - timedelta(days=30)))  # fmt: skip
    result = any_app.test_cli_runner().invoke(args=["optimize"])
    assert result.exit_code == 0 and "will rebuild itself when it returns" in result.output
    with index.engine.connect() as connection:
        oldest = connection.scalar(select(func.min(SearchChange.id)))
    assert oldest > left_at + 1  # changes it never applied are gone from the log

    caplog.set_level(logging.WARNING, logger="kb.search.index")
    returned = SearchIndex(other_root, index.engine)
    assert returned.catch_up() is None  # it cannot catch up: it starts a rebuild instead
    assert returned.wait_for_repair(timeout=60)
    assert "Rebuilding search index" in caplog.text
    assert check(returned).clean
    assert Path(other_root / "replica.json").read_text() == name
    returned.close()
