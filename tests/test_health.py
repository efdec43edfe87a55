"""/healthz: 200 when the database answers and the search index is sound and nearly current,
503 with the reasons otherwise; cheap, and never a write."""

from __future__ import annotations

import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, update

from kb.db import db, utcnow
from kb.health import check
from kb.models import SearchChange
from kb.search import get_index
from tests.conftest import make_app
from tests.editor_support import entry_by_slug
from tests.search_support import edit

SLUG = "ward-podcast-nurse-recruitment"
DATABASES = ["catalogue_app", "postgres_catalogue_app"]


def _save_without_catching_up(app) -> None:
    """Commit an edit as another host would: the change is logged, this index not told."""
    with app.app_context():
        edit(
            db.session,
            entry_by_slug(db.session, SLUG, refresh=False),
            summary="Changed on another host.",
        )
        db.session.commit()


@pytest.mark.parametrize("database_app", DATABASES)
def test_a_healthy_site_answers_200_with_the_index_generation(request, database_app):
    app = request.getfixturevalue(database_app)
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    report = response.get_json()
    assert report["status"] == "ok" and report["problems"] == [] and report["database"] == "ok"
    search = report["search"]
    assert search["lag_changes"] == 0 and search["lag_seconds"] == 0
    assert search["applied"] == search["latest"] > 0
    with app.app_context():
        index = get_index()
        assert search["folder"] == index.live_folder().name
        assert search["generation"] == index.readers.generation(index.live_folder(), None)[1]


def test_lag_is_reported_in_changes_and_seconds_and_too_much_is_503(catalogue_app):
    client = catalogue_app.test_client()
    assert client.get("/healthz").status_code == 200
    catalogue_app.config["HEALTH_MAX_INDEX_LAG_SECONDS"] = 60
    _save_without_catching_up(catalogue_app)
    with catalogue_app.app_context():
        db.session.execute(
            update(SearchChange)
            .where(SearchChange.id > get_index().applied())
            .values(recorded_at=utcnow() - timedelta(minutes=10))
        )
        db.session.commit()
    lagging = client.get("/healthz")
    assert lagging.status_code == 503
    report = lagging.get_json()
    assert report["search"]["lag_changes"] >= 1
    assert 590 <= report["search"]["lag_seconds"] < 700
    assert report["problems"] == [
        f"the search index is {report['search']['lag_seconds']:.0f} s behind the database"
    ]
    # The check nudged a catch-up, as a search would, so an idle host still follows the log.
    deadline = time.monotonic() + 10
    while client.get("/healthz").status_code != 200:
        assert time.monotonic() < deadline, "the index did not catch up"
        time.sleep(0.05)


def test_a_missing_index_is_503(catalogue_app):
    shutil.rmtree(Path(catalogue_app.config["SEARCH_INDEX_DIR"]))
    with catalogue_app.app_context():
        # However old the changes it lacks, the report names the cause, not the lag too.
        report = check(get_index(), 0)  # (a request would start rebuilding it at once)
    assert report["status"] == "unavailable"
    assert report["problems"] == ["there is no search index yet"]
    assert report["search"]["lag_changes"] > 0


def test_an_unreachable_database_is_503(tmp_path):
    app = make_app(tmp_path, "postgresql+psycopg://span@127.0.0.1:9/nowhere")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "problems": ["the database cannot be reached"],
        "database": "unreachable",
    }


@pytest.mark.parametrize("database_app", DATABASES)
def test_the_check_only_reads_and_costs_two_queries(request, database_app):
    app = request.getfixturevalue(database_app)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200  # the process's first request catches up
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    record = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(5):
            assert client.get("/healthz").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(statements) == 5 * 2
    assert all(s.lstrip().upper().startswith("SELECT") for s in statements), statements
