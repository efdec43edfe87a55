"""Shared fixtures: a fresh app per test on a real database, copied from migrated templates.

Migrating and seeding once per session and copying the database per test keeps each test
isolated without paying for Alembic and the catalogue load every time. The database is SQLite
unless ``KB_TEST_DATABASE`` says PostgreSQL (see ``tests/databases.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import close_all_sessions

from kb import create_app
from kb.accounts.demo import DEMO_PASSWORD, create_demo_accounts
from kb.accounts.passwords import hash_password
from kb.cli import upgrade_database
from kb.config import ROOT
from kb.db import db, utcnow
from kb.notifications.events import quietly
from kb.search import get_index
from kb.search.index import close_all
from kb.seeding import load_catalogue, load_taxonomy
from tests import postgres
from tests.databases import (
    EXTERNAL_POSTGRES,
    ON_POSTGRES,
    PostgresDatabases,
    SQLiteFiles,
    Template,
    sqlite_url,
)
from tests.editor_support import add_user
from tests.factories import make_organisation

SEED_DIR = ROOT / "seed_data"


def make_app(instance: Path, database: Path | str, **overrides) -> Flask:
    """An app on ``database``: a SQLite file's path, or any database URL."""
    url = database if isinstance(database, str) and "://" in database else sqlite_url(database)
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": url,
        "SEARCH_INDEX_DIR": str(instance / "search"),
        "SEED_DIR": str(SEED_DIR),
        # Fast hashing: the suite signs in hundreds of times. Production uses scrypt.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        # Tests deliver email themselves (kb send-mail, or deliver_due), when they mean to.
        "MAIL_SEND_IN_BACKGROUND": False,
        # Related entries are worked out while the page waits, so the first view shows them
        # (tests/test_related_entries.py covers the background way).
        "RELATED_IN_BACKGROUND": False,
    }
    config.update(overrides)
    app = create_app(config)
    _made.append(app)
    return app


_made: list[Flask] = []  # apps made during the current test, whose connections are closed after it


def _settle(app: Flask) -> None:
    """Close the app's connections, so its database can be copied (on SQLite, after folding
    the WAL into the main file)."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            with db.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.engine.dispose()


def _template(databases, tmp_path_factory, name: str, loader) -> Template:
    """Migrate a new database, load it with ``loader`` and build its search index."""
    folder = tmp_path_factory.mktemp(f"{databases.name}-{name}")
    app = make_app(folder, databases.empty(folder))
    with app.app_context():
        upgrade_database()
        with quietly(db.session):  # as `kb init` loads it: nobody is notified
            loader(db.session, SEED_DIR)
            db.session.commit()
        get_index().ensure()  # builds the index, as `kb init` does
    close_all()
    _settle(app)
    return Template(app.config["DATABASE_URL"], folder, databases)


@pytest.fixture(autouse=True)
def _close_search_indexes() -> Iterator[None]:
    """Searchers stay open between requests, as in production, and each app keeps a pool of
    database connections: close both after each test."""
    yield
    close_all()
    close_all_sessions()  # what a test left open goes back to its pool, to be closed with it
    while _made:
        dispose(_made.pop())


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path) -> None:
    """No test reads the developer's instance folder or KB_* settings."""
    for name in ("KB_DATABASE_URL", "KB_SECRET_KEY", "KB_SEED_DIR", "KB_SECURE_COOKIES",
                 "KB_SEARCH_INDEX_DIR", "KB_IMAGE_HOSTS", "KB_MAIL_URL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KB_INSTANCE_PATH", str(tmp_path / "instance"))


# The database the ordinary fixtures use: SQLite files, or PostgreSQL (KB_TEST_DATABASE; see
# tests/databases.py). Either way, migrating and loading happen once per session, into
# templates, and each test gets a fresh copy.


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[postgres.Server]:
    """The PostgreSQL server of this session: a throwaway cluster started from the server
    binaries, or the existing server KB_TEST_DATABASE names."""
    if EXTERNAL_POSTGRES:
        yield postgres.External(EXTERNAL_POSTGRES)
        return
    binaries = postgres.server_binaries()
    if binaries is None:
        message = "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin)"
        if postgres.REQUIRED or ON_POSTGRES:
            pytest.fail(message + " and KB_REQUIRE_POSTGRES=1 or KB_TEST_DATABASE is set")
        pytest.skip(message)
    cluster = postgres.Cluster(binaries).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def postgres_databases(postgres_cluster) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_cluster)
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def databases(request) -> SQLiteFiles | PostgresDatabases:
    """Where the ordinary fixtures make their databases."""
    if ON_POSTGRES:
        return request.getfixturevalue("postgres_databases")
    return SQLiteFiles()


@pytest.fixture(scope="session")
def taxonomy_db(databases, tmp_path_factory) -> Template:
    """A migrated database holding only the taxonomy."""
    return _template(databases, tmp_path_factory, "taxonomy", load_taxonomy)


def _catalogue_with_demo_accounts(session, seed_dir: Path):
    report = load_catalogue(session, seed_dir)
    create_demo_accounts(session, hash_password(DEMO_PASSWORD), utcnow())
    return report


@pytest.fixture(scope="session")
def catalogue_db(databases, tmp_path_factory) -> Template:
    """A migrated database holding the whole sample catalogue and its demo accounts."""
    return _template(databases, tmp_path_factory, "catalogue", _catalogue_with_demo_accounts)


def _copy(template: Template, tmp_path: Path) -> Iterator[str]:
    url = template.copy(tmp_path / "instance")
    yield url
    close_all()
    template.drop(url)


@pytest.fixture
def empty_url(databases, tmp_path) -> Iterator[str]:
    """The URL of a new, empty database (not migrated)."""
    url = databases.empty(tmp_path)
    yield url
    close_all()
    databases.drop(url)


@pytest.fixture
def taxonomy_url(taxonomy_db, tmp_path) -> Iterator[str]:
    """A fresh copy of the taxonomy database (and its index, in ``tmp_path/instance``)."""
    yield from _copy(taxonomy_db, tmp_path)


@pytest.fixture
def catalogue_url(catalogue_db, tmp_path) -> Iterator[str]:
    """A fresh copy of the catalogue database (and its index, in ``tmp_path/instance``), for
    tests that build their app with other settings."""
    yield from _copy(catalogue_db, tmp_path)


@pytest.fixture
def app(taxonomy_url, tmp_path) -> Iterator[Flask]:
    """An app on a fresh database with the taxonomy but no organisations or entries."""
    app = make_app(tmp_path / "instance", taxonomy_url)
    yield app
    dispose(app)


@pytest.fixture
def catalogue_app(catalogue_url, tmp_path) -> Iterator[Flask]:
    """An app on a fresh copy of the seeded sample catalogue."""
    app = make_app(tmp_path / "instance", catalogue_url)
    yield app
    dispose(app)


def dispose(app: Flask) -> None:
    """Close ``app``'s database connections, once any search index repair it started in the
    background (which holds one) has finished."""
    index = app.extensions["kb.search"].index
    if index is not None:
        index.close(wait=30)
    with app.app_context():
        db.engine.dispose()


# PostgreSQL whatever KB_TEST_DATABASE says, for tests that run on both databases.


@pytest.fixture(scope="session")
def postgres_taxonomy(request, postgres_databases, tmp_path_factory) -> Template:
    if ON_POSTGRES:
        return request.getfixturevalue("taxonomy_db")
    return _template(postgres_databases, tmp_path_factory, "taxonomy", load_taxonomy)


@pytest.fixture(scope="session")
def postgres_catalogue(request, postgres_databases, tmp_path_factory) -> Template:
    if ON_POSTGRES:
        return request.getfixturevalue("catalogue_db")
    return _template(postgres_databases, tmp_path_factory, "catalogue",
                     _catalogue_with_demo_accounts)  # fmt: skip


@pytest.fixture
def postgres_app(postgres_taxonomy, tmp_path) -> Iterator[Flask]:
    """Like ``app``, on a fresh PostgreSQL database."""
    for url in _copy(postgres_taxonomy, tmp_path):
        app = make_app(tmp_path / "instance", url)
        yield app
        dispose(app)


@pytest.fixture
def postgres_catalogue_app(postgres_catalogue, tmp_path) -> Iterator[Flask]:
    """Like ``catalogue_app``, on a fresh PostgreSQL database."""
    for url in _copy(postgres_catalogue, tmp_path):
        app = make_app(tmp_path / "instance", url)
        yield app
        dispose(app)


@pytest.fixture
def client(catalogue_app):
    return catalogue_app.test_client()


@pytest.fixture
def session(catalogue_app):
    """The database session of the seeded app, inside an app context.

    Test-client requests made meanwhile reuse this app context, and with it Flask-Login's
    cached user: tests that sign in should open short ``app.app_context()`` blocks instead.
    """
    with catalogue_app.app_context():
        yield db.session


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# Editor tests: a session of their own, an organisation, and a member and an editor of it.


@pytest.fixture
def store(catalogue_app):
    """A database session of its own. Tests that make requests must not hold an app context
    (the ``session`` fixture does): requests would share its ``g``, and with it a stale CSRF
    token and the test's session."""
    session = catalogue_app.extensions["kb.db"]()
    yield session
    session.close()


@pytest.fixture
def org(store):
    organisation = make_organisation(store, sector="police", name="Testshire Police")
    store.commit()
    return organisation


@pytest.fixture
def member(catalogue_app, store, org):
    return add_user(catalogue_app, store, org, role="member", display_name="Morgan Member")


@pytest.fixture
def editor(catalogue_app, store, org):
    return add_user(catalogue_app, store, org, role="editor", display_name="Eddie Editor")
