"""Shared fixtures: a fresh app per test on a real SQLite file, built from migrated templates.

Migrating and seeding once per session and copying the database file per test keeps each test
isolated without paying for Alembic and the catalogue load every time.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

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
from tests.editor_support import add_user
from tests.factories import make_organisation

SEED_DIR = ROOT / "seed_data"


def make_app(instance: Path, database: Path, **overrides) -> Flask:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": f"sqlite:///{database}",
        "SEARCH_INDEX_DIR": str(instance / "search"),
        "SEED_DIR": str(SEED_DIR),
        # Fast hashing: the suite signs in hundreds of times. Production uses scrypt.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        # Tests deliver email themselves (kb send-mail, or deliver_due), when they mean to.
        "MAIL_SEND_IN_BACKGROUND": False,
    }
    config.update(overrides)
    return create_app(config)


def _checkpoint(app: Flask) -> None:
    """Fold the WAL into the main file and close connections, so the file can be copied."""
    with app.app_context():
        with db.engine.connect() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.engine.dispose()


def _template(tmp_path_factory, name: str, loader) -> Path:
    folder = tmp_path_factory.mktemp(name)
    database = folder / "kb.sqlite"
    app = make_app(folder, database)
    with app.app_context():
        upgrade_database()
        with quietly(db.session):  # as `kb init` loads it: nobody is notified
            loader(db.session, SEED_DIR)
            db.session.commit()
        get_index().ensure()  # builds the index, as `kb init` does
    _checkpoint(app)
    return database


@pytest.fixture(autouse=True)
def _close_search_indexes() -> Iterator[None]:
    """Searchers stay open between requests, as in production; close them after each test."""
    yield
    close_all()


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path) -> None:
    """No test reads the developer's instance folder or KB_* settings."""
    for name in ("KB_DATABASE_URL", "KB_SECRET_KEY", "KB_SEED_DIR", "KB_SECURE_COOKIES",
                 "KB_SEARCH_INDEX_DIR", "KB_IMAGE_HOSTS", "KB_MAIL_URL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KB_INSTANCE_PATH", str(tmp_path / "instance"))


@pytest.fixture(scope="session")
def taxonomy_db(tmp_path_factory) -> Path:
    """A migrated database holding only the taxonomy."""
    return _template(tmp_path_factory, "taxonomy", load_taxonomy)


def _catalogue_with_demo_accounts(session, seed_dir: Path):
    report = load_catalogue(session, seed_dir)
    create_demo_accounts(session, hash_password(DEMO_PASSWORD), utcnow())
    return report


@pytest.fixture(scope="session")
def catalogue_db(tmp_path_factory) -> Path:
    """A migrated database holding the whole sample catalogue and its demo accounts."""
    return _template(tmp_path_factory, "catalogue", _catalogue_with_demo_accounts)


def _copy(template: Path, tmp_path: Path) -> Path:
    """A copy of a template database, and of its search index, for one test."""
    database = tmp_path / "kb.sqlite"
    shutil.copyfile(template, database)
    shutil.copytree(template.parent / "search", tmp_path / "instance" / "search", symlinks=True)
    return database


@pytest.fixture
def app(taxonomy_db, tmp_path) -> Iterator[Flask]:
    """An app on a fresh database with the taxonomy but no organisations or entries."""
    app = make_app(tmp_path / "instance", _copy(taxonomy_db, tmp_path))
    yield app
    _dispose(app)


@pytest.fixture
def catalogue_app(catalogue_db, tmp_path) -> Iterator[Flask]:
    """An app on a fresh copy of the seeded sample catalogue."""
    app = make_app(tmp_path / "instance", _copy(catalogue_db, tmp_path))
    yield app
    _dispose(app)


def _dispose(app: Flask) -> None:
    with app.app_context():
        db.engine.dispose()


# PostgreSQL: a throwaway cluster per test session, template databases made as above, and a
# database copied from a template per test (CREATE DATABASE ... TEMPLATE).


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[postgres.Cluster]:
    binaries = postgres.server_binaries()
    if binaries is None:
        message = "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin)"
        if postgres.REQUIRED:
            pytest.fail(message + " and KB_REQUIRE_POSTGRES=1")
        pytest.skip(message)
    cluster = postgres.Cluster(binaries).start()
    yield cluster
    cluster.stop()


def _postgres_template(cluster: postgres.Cluster, tmp_path_factory, name: str, loader) -> Path:
    """Like ``_template``: a migrated, loaded PostgreSQL database named ``name`` and a folder
    holding its search index."""
    folder = tmp_path_factory.mktemp(f"pg-{name}")
    app = make_app(folder, folder / "unused.sqlite", DATABASE_URL=cluster.create_database(name))
    with app.app_context():
        upgrade_database()
        with quietly(db.session):
            loader(db.session, SEED_DIR)
            db.session.commit()
        get_index().ensure()
        db.engine.dispose()
    close_all()
    return folder


@pytest.fixture(scope="session")
def postgres_taxonomy(postgres_cluster, tmp_path_factory) -> Path:
    return _postgres_template(postgres_cluster, tmp_path_factory, "template_taxonomy",
                              load_taxonomy)  # fmt: skip


@pytest.fixture(scope="session")
def postgres_catalogue(postgres_cluster, tmp_path_factory) -> Path:
    return _postgres_template(postgres_cluster, tmp_path_factory, "template_catalogue",
                              _catalogue_with_demo_accounts)  # fmt: skip


def _postgres_app(cluster: postgres.Cluster, template: str, folder: Path, tmp_path: Path):
    name = f"test_{tmp_path.name.lower()}"[:60]
    url = cluster.create_database(name, template=template)
    shutil.copytree(folder / "search", tmp_path / "instance" / "search", symlinks=True)
    app = make_app(tmp_path / "instance", tmp_path / "unused.sqlite", DATABASE_URL=url)
    yield app
    close_all()
    _dispose(app)
    cluster.drop_database(name)


@pytest.fixture
def postgres_app(postgres_cluster, postgres_taxonomy, tmp_path) -> Iterator[Flask]:
    """Like ``app``, on a fresh PostgreSQL database."""
    yield from _postgres_app(postgres_cluster, "template_taxonomy", postgres_taxonomy, tmp_path)


@pytest.fixture
def postgres_catalogue_app(postgres_cluster, postgres_catalogue, tmp_path) -> Iterator[Flask]:
    """Like ``catalogue_app``, on a fresh PostgreSQL database."""
    yield from _postgres_app(postgres_cluster, "template_catalogue", postgres_catalogue,
                             tmp_path)  # fmt: skip


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
