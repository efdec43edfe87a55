"""The index commands: kb init builds the index, kb reindex rebuilds it, kb index-check finds
every kind of drift, kb optimize merges segments and prunes the change log."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from whoosh import index as whoosh_index

from kb.db import db, utcnow
from kb.models import Entry, SearchChange
from kb.search.index import SearchIndex
from tests.conftest import dispose, make_app
from tests.editor_support import entry_by_slug
from tests.search_support import drift, edit, found, index_of


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def live(app):
    """The live public Whoosh index, opened directly (as another tool would)."""
    root = Path(app.config["SEARCH_INDEX_DIR"])
    return whoosh_index.open_dir(str(SearchIndex(root, None).live_folder() / "public"))


def entry_ids(app) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Entry.id).order_by(Entry.id)))


def log_ids(app) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(SearchChange.id).order_by(SearchChange.id)))


@pytest.fixture
def fresh_app(tmp_path, empty_url):
    app = make_app(tmp_path / "instance", empty_url)
    yield app
    dispose(app)


def test_init_on_a_fresh_database_builds_the_index(fresh_app):
    index = SearchIndex(Path(fresh_app.config["SEARCH_INDEX_DIR"]), None)
    assert not index.exists()
    result = invoke(fresh_app, "init")
    assert result.exit_code == 0, result.output
    assert index.exists() and len(entry_ids(fresh_app)) >= 30
    assert "Search index" in result.output.splitlines()[-1]
    assert drift(fresh_app).clean
    check = invoke(fresh_app, "index-check")
    assert check.exit_code == 0 and "matches the database" in check.output
    again = invoke(fresh_app, "init")
    assert again.output.splitlines()[-1] == "Search index is up to date (0 entries re-read)."


def test_init_on_a_fresh_database_says_it_built_the_index(fresh_app):
    result = invoke(fresh_app, "init")
    total = len(entry_ids(fresh_app))
    assert re.search(rf"^Search index built: {total} entries in [\d.]+ s\.$", result.output, re.M)


def test_reindex_rebuilds_and_prints_the_count(catalogue_app):
    before = SearchIndex(Path(catalogue_app.config["SEARCH_INDEX_DIR"]), None).live_folder()
    result = invoke(catalogue_app, "reindex")
    assert result.exit_code == 0, result.output
    total = len(entry_ids(catalogue_app))
    assert re.search(
        rf"^Search index rebuilt: {total} entries in [\d.]+ s \(\d+ segments?, at most \d+ MB "
        r"per process\)\.$",
        result.output,
        re.M,
    )
    after = SearchIndex(Path(catalogue_app.config["SEARCH_INDEX_DIR"]), None).live_folder()
    assert after != before and drift(catalogue_app).clean


def test_index_check_lists_missing_phantom_and_stale_entries(catalogue_app):
    first = invoke(catalogue_app, "index-check").output.splitlines()[0]
    assert first == "Search index matches the database."
    missing, stale = entry_ids(catalogue_app)[:2]
    index = live(catalogue_app)
    writer = index.writer()
    writer.delete_by_term("id", str(missing))
    writer.add_document(id="999999", title="Ghost entry", status="published")
    writer.commit()
    # Straight to the database: the change-recording session listeners never see it.
    with index_of(catalogue_app).engine.begin() as connection:
        connection.execute(update(Entry).where(Entry.id == stale).values(title="Bypassed"))
    result = invoke(catalogue_app, "index-check")
    assert result.exit_code == 1
    assert f"  1 missing (entry ids {missing})\n" in result.stderr
    assert "  1 phantom (entry ids 999999)\n" in result.stderr
    assert f"  1 stale (entry ids {stale})\n" in result.stderr
    assert "not yet applied" not in result.stderr
    assert "Search index differs from the database." in result.stderr
    assert result.stdout.startswith("Replica ")  # the registry, for the reader's information

    assert invoke(catalogue_app, "reindex").exit_code == 0
    assert invoke(catalogue_app, "index-check").exit_code == 0


def test_optimize_merges_segments_and_prunes_old_applied_changes(catalogue_app):
    index = index_of(catalogue_app)
    with catalogue_app.app_context():
        session = db.session
        for slug in session.scalars(select(Entry.slug).order_by(Entry.id).limit(3)).all():
            edit(
                session,
                entry_by_slug(session, slug, refresh=False),
                summary=f"Segment maker {slug}",
            )
            session.commit()
            assert index.catch_up() == 1
    assert len(live(catalogue_app)._segments()) >= 3
    ids = log_ids(catalogue_app)
    applied = index.applied()
    assert ids[-1] == applied
    old = utcnow() - timedelta(days=2)
    aged = ids[: len(ids) // 2]
    with index.engine.begin() as connection:
        connection.execute(update(SearchChange).where(SearchChange.id.in_(aged))
                           .values(recorded_at=old))  # fmt: skip
        # An old change the index has not applied yet must survive the pruning.
        connection.execute(SearchChange.__table__.insert().values(
            id=applied + 1, entry_id=entry_ids(catalogue_app)[0], recorded_at=old))  # fmt: skip

    result = invoke(catalogue_app, "optimize")
    assert result.exit_code == 0, result.output
    assert f"Search index optimised; {len(aged)} applied change-log rows pruned." in result.output
    assert len(live(catalogue_app)._segments()) == 1
    assert log_ids(catalogue_app) == [*ids[len(aged) :], applied + 1]
    # The unapplied change was applied before merging, so nothing is left over.
    assert index.applied() == applied + 1 and drift(catalogue_app).clean
    assert found(catalogue_app.test_client(), '"segment maker"')


def test_a_rebuild_after_pruning_the_whole_log_settles_the_next_save(catalogue_app):
    index = index_of(catalogue_app)
    with index.engine.begin() as connection:
        connection.execute(update(SearchChange).values(recorded_at=utcnow() - timedelta(days=2)))
    assert invoke(catalogue_app, "optimize").exit_code == 0
    with catalogue_app.app_context():
        # The newest row is never pruned: it carries the log's high-water mark.
        assert db.session.scalar(select(func.count(SearchChange.id))) == 1
    assert invoke(catalogue_app, "reindex").exit_code == 0
    with catalogue_app.app_context():
        session = db.session
        edit(session, session.scalar(select(Entry).limit(1)), title="After the pruning")
        session.commit()
    index.catch_up()
    assert index.applied() > 0
    assert drift(catalogue_app).clean
