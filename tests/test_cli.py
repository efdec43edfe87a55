"""The kb command: init, seed, create-user and the Alembic wrappers."""

from __future__ import annotations

from sqlalchemy import func, inspect, select

from kb.accounts.passwords import check_password
from kb.db import db
from kb.models import Entry, Organisation, Sector, User
from tests.conftest import SEED_DIR, make_app


def _fresh(tmp_path, url):
    return make_app(tmp_path, url)


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_init_migrates_and_loads_the_catalogue_into_an_empty_database(tmp_path, empty_url):
    app = _fresh(tmp_path, empty_url)
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    assert "Loading the sample catalogue" in result.output
    assert _count(app, Entry) >= 30
    second = app.test_cli_runner().invoke(args=["init"])
    assert second.exit_code == 0
    assert "not loaded" in second.output
    assert _count(app, Entry) >= 30


def test_init_without_sample_loads_only_the_taxonomy(tmp_path, empty_url):
    app = _fresh(tmp_path, empty_url)
    result = app.test_cli_runner().invoke(args=["init", "--no-sample"])
    assert result.exit_code == 0, result.output
    assert _count(app, Sector) == 8
    assert _count(app, Organisation) == 0 and _count(app, Entry) == 0


def test_db_upgrade(tmp_path, empty_url):
    app = _fresh(tmp_path, empty_url)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert "entries" in inspect(db.engine).get_table_names()


def test_seed_twice_adds_nothing_the_second_time(app):
    runner = app.test_cli_runner()
    entries = len(list((SEED_DIR / "entries").glob("*.md")))
    assert f"entries: {entries} added" in runner.invoke(args=["seed"]).output
    again = runner.invoke(args=["seed"])
    assert again.exit_code == 0
    assert "entries: 0 added" in again.output


def test_create_user(catalogue_app):
    runner = catalogue_app.test_cli_runner()
    result = runner.invoke(
        args=["create-user", "--email", "Comms@Example.org", "--name", "Comms lead",
              "--org", "eastmarch-police", "--role", "editor"],
        input="a long passphrase\na long passphrase\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with catalogue_app.app_context():
        user = db.session.scalar(select(User).where(User.email == "comms@example.org"))
        assert user.role == "editor" and user.organisation.slug == "eastmarch-police"
        assert check_password(user.password_hash, "a long passphrase")
        assert "a long passphrase" not in user.password_hash


def test_create_admin_needs_no_organisation(catalogue_app):
    result = catalogue_app.test_cli_runner().invoke(
        args=["create-user", "--email", "admin@example.org", "--name", "Admin", "--admin",
              "--password", "another passphrase"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_create_user_rejects_bad_input_clearly(catalogue_app):
    runner = catalogue_app.test_cli_runner()
    unknown = runner.invoke(args=["create-user", "--email", "a@b.org", "--name", "A", "--org",
                                  "nowhere", "--password", "pw pw pw pw"])  # fmt: skip
    assert unknown.exit_code == 2 and "no organisation with slug 'nowhere'" in unknown.output
    no_org = runner.invoke(args=["create-user", "--email", "a@b.org", "--name", "A",
                                 "--password", "pw pw pw pw"])  # fmt: skip
    assert no_org.exit_code == 2 and "need --org" in no_org.output


def test_init_without_sample_ignores_a_broken_entry_file(tmp_path, empty_url):
    """Loading only the taxonomy must not depend on entry files it never loads."""
    import shutil

    from tests.conftest import SEED_DIR

    seed = tmp_path / "seed_data"
    shutil.copytree(SEED_DIR, seed)
    (seed / "entries" / "broken.md").write_text("no front matter here\n")
    app = make_app(tmp_path, empty_url, SEED_DIR=str(seed))
    result = app.test_cli_runner().invoke(args=["init", "--no-sample"])
    assert result.exit_code == 0, result.output
    assert _count(app, Sector) == 8
    full = app.test_cli_runner().invoke(args=["seed"])
    assert full.exit_code == 1 and "broken.md" in full.output


def test_kb_command_offers_span_and_flask_commands(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from kb.cli import make_cli

    monkeypatch.setenv("KB_SECRET_KEY", "cli-test")
    monkeypatch.setenv("KB_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    runner = CliRunner()
    top = runner.invoke(make_cli(), ["--help"])
    assert top.exit_code == 0, top.output
    for command in ("run", "init", "seed", "create-user", "db"):
        assert f"  {command} " in top.output, command
    db_help = runner.invoke(make_cli(), ["db", "--help"])
    assert "upgrade" in db_help.output and "revision" in db_help.output
