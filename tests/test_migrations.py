"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, MetaData, String, inspect

from kb.cli import upgrade_database
from kb.db import Base, db
from tests.conftest import make_app


def _drift(app, metadata: MetaData) -> list:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)


def _migrated_app(tmp_path, url):
    app = make_app(tmp_path, url)
    with app.app_context():
        upgrade_database()
    return app


def test_migrations_match_models(tmp_path, empty_url):
    assert _drift(_migrated_app(tmp_path, empty_url), Base.metadata) == []


def test_drift_check_notices_a_model_change(tmp_path, empty_url):
    """The check above can fail: a column the migrations lack shows up as drift."""
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["entries"].append_column(Column("not_migrated", String(10)))
    diff = _drift(_migrated_app(tmp_path, empty_url), changed)
    assert [op[0] for op in diff] == ["add_column"]


def test_upgrade_is_repeatable_and_creates_every_table(tmp_path, empty_url):
    app = _migrated_app(tmp_path, empty_url)
    with app.app_context():
        upgrade_database()
        tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables
