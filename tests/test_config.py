"""Configuration, start-up safety and the SQLite connection settings."""

from __future__ import annotations

import runpy

import pytest
from sqlalchemy import text

from kb import create_app
from kb.config import DEFAULT_SECRET_KEY, ROOT, UnsafeConfigError
from kb.db import db
from tests.conftest import make_app


def test_refuses_default_secret_key_outside_debug(tmp_path):
    with pytest.raises(UnsafeConfigError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"})


def test_default_secret_key_allowed_in_debug(tmp_path):
    app = create_app({"DEBUG": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"})
    assert app.config["SECRET_KEY"] == DEFAULT_SECRET_KEY
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_secret_key_from_instance_file(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "secret_key").write_text("from-the-file\n")
    monkeypatch.setenv("KB_INSTANCE_PATH", str(instance))
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"})
    assert app.config["SECRET_KEY"] == "from-the-file"


def test_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_SECRET_KEY", "from-env")
    monkeypatch.setenv("KB_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.sqlite'}")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["DATABASE_URL"].endswith("elsewhere.sqlite")


def test_cookies_are_hardened_outside_debug(catalogue_app):
    config = catalogue_app.config
    assert config["SESSION_COOKIE_HTTPONLY"] and config["REMEMBER_COOKIE_HTTPONLY"]
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax" == config["REMEMBER_COOKIE_SAMESITE"]
    assert config["SESSION_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SECURE"]


def test_secure_cookies_can_be_turned_off_for_local_http(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_SECURE_COOKIES", "0")
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"})
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_sqlite_connection_settings(tmp_path):
    app = make_app(tmp_path, tmp_path / "settings.sqlite")  # SQLite whatever the suite runs on
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_default_database_lives_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_INSTANCE_PATH", str(tmp_path / "inst"))
    app = create_app({"SECRET_KEY": "x"})
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'inst' / 'kb.sqlite'}"


@pytest.mark.parametrize(
    ("environment", "threads"),
    [
        ({}, 1),  # the default database is SQLite in the instance folder
        ({"KB_DATABASE_URL": "sqlite:////srv/span/kb.sqlite"}, 1),
        ({"KB_DATABASE_URL": "postgresql+psycopg://span@db/span"}, 4),
        ({"KB_DATABASE_URL": "postgresql+psycopg://span@db/span", "KB_THREADS": "2"}, 2),
        ({"KB_THREADS": "3"}, 3),
    ],
)
def test_production_server_runs_one_thread_per_worker_on_sqlite(monkeypatch, environment, threads):
    """On SQLite, request threads sharing a process crashed workers under load; a database
    server keeps its threads, and KB_THREADS still decides when set."""
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    monkeypatch.delenv("KB_THREADS", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert settings["worker_class"] == "gthread"
    assert settings["threads"] == threads
