"""kb backup while saves go on, then kb restore: every revision committed before the backup is
back, and every index folder equals the database again."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from kb.db import db
from kb.models import Entry, Revision
from kb.search.check import check
from tests.conftest import dispose, make_app
from tests.databases import ON_POSTGRES
from tests.search_support import edit, index_of

# kb backup and kb restore are for SQLite; on PostgreSQL they point at pg_dump (tested below).
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="the suite runs on PostgreSQL")


class SaveLoop(threading.Thread):
    """Saves to a few entries, one after another, for at most ``seconds``; remembers each
    revision and when its commit returned."""

    def __init__(self, app, slugs: list[str], seconds: float):
        super().__init__(daemon=True)
        self.app, self.slugs, self.seconds = app, slugs, seconds
        self.committed: list[tuple[int, int, float]] = []  # (entry id, revision, at)
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        try:
            number = 0
            while not self.stop.is_set() and time.monotonic() < deadline:
                with self.app.app_context():
                    slug = self.slugs[number % len(self.slugs)]
                    entry = db.session.scalar(select(Entry).where(Entry.slug == slug))
                    edit(db.session, entry, summary=f"Saved in the loop, number {number}.")
                    db.session.commit()
                    self.committed.append(
                        (entry.id, entry.current_revision_number, time.monotonic())
                    )
                number += 1
        except BaseException as error:  # reported by the test
            self.error = error


def _revisions(app) -> set[tuple[int, int]]:
    with app.app_context():
        return {
            tuple(row) for row in db.session.execute(select(Revision.entry_id, Revision.number))
        }


@sqlite_only
def test_a_backup_during_saves_restores_every_revision_committed_before_it(catalogue_app, tmp_path):
    runner = catalogue_app.test_cli_runner()
    # Another index folder on the same database, as a second host would keep.
    other = make_app(tmp_path / "other", catalogue_app.config["DATABASE_URL"])
    index_of(other).ensure()
    with catalogue_app.app_context():
        slugs = list(db.session.scalars(select(Entry.slug).order_by(Entry.id).limit(5)))
    loop = SaveLoop(catalogue_app, slugs, seconds=20)
    loop.start()
    try:
        while len(loop.committed) < 10:
            assert loop.is_alive(), loop.error
            time.sleep(0.01)
        started = time.monotonic()
        backed_up = runner.invoke(args=["backup", str(tmp_path / "backups" / "span.sqlite")])
        finished = time.monotonic()
        while len([c for c in loop.committed if c[2] > finished]) < 5:
            assert loop.is_alive(), loop.error
            time.sleep(0.01)
    finally:
        loop.stop.set()
        loop.join(30)
    assert loop.error is None, loop.error
    assert backed_up.exit_code == 0, backed_up.output
    assert backed_up.output.startswith("Backed up ")
    before = {(e, r) for e, r, at in loop.committed if at < started}
    after = {(e, r) for e, r, at in loop.committed if at > finished}
    index_of(other).catch_up(timeout=5)  # the other host has seen the latest saves

    restored = runner.invoke(args=["restore", "--yes", str(tmp_path / "backups" / "span.sqlite")])
    assert restored.exit_code == 0, restored.output
    revisions = _revisions(catalogue_app)
    assert before and before <= revisions
    assert after and not (after & revisions)  # the snapshot was taken before these
    checked = runner.invoke(args=["index-check"])
    assert checked.exit_code == 0, checked.output

    # The other folder had applied log ids the restored log reuses: it must rebuild, not
    # trust them. Its next catch-up notices and rebuilds in the background.
    other_index = index_of(other)
    other_index.catch_up(timeout=5)
    assert other_index.wait_for_repair(60)
    other_index.catch_up(timeout=5)
    assert check(other_index).clean
    dispose(other)


@sqlite_only
def test_a_backup_is_a_whole_sqlite_database(catalogue_app, tmp_path):
    target = tmp_path / "span.sqlite"
    result = catalogue_app.test_cli_runner().invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        entries = copy.execute("SELECT count(*) FROM entries").fetchone()[0]
    assert f"Backed up {entries} entries" in result.output
    assert not list(tmp_path.glob(".*partial"))


@sqlite_only
def test_a_backup_never_overwrites_a_file(catalogue_app, tmp_path):
    target = tmp_path / "span.sqlite"
    target.write_text("an older backup")
    result = catalogue_app.test_cli_runner().invoke(args=["backup", str(target)])
    assert result.exit_code == 1 and "already exists" in result.output
    assert target.read_text() == "an older backup"


@sqlite_only
@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"not a database at all, just text" * 100, "not a SQLite database"), (None, "not a backup")],
)
def test_restore_refuses_what_is_not_a_backup_and_changes_nothing(
    catalogue_app, tmp_path, content, reason
):
    bogus = tmp_path / "bogus.sqlite"
    if content is None:
        with sqlite3.connect(bogus) as other:
            other.execute("CREATE TABLE notes (id INTEGER)")
    else:
        bogus.write_bytes(content)
    before = _revisions(catalogue_app)
    result = catalogue_app.test_cli_runner().invoke(args=["restore", "--yes", str(bogus)])
    assert result.exit_code == 1 and reason in result.output, result.output
    assert _revisions(catalogue_app) == before


@sqlite_only
def test_restore_asks_first(catalogue_app, tmp_path):
    target = tmp_path / "span.sqlite"
    assert catalogue_app.test_cli_runner().invoke(args=["backup", str(target)]).exit_code == 0
    result = catalogue_app.test_cli_runner().invoke(args=["restore", str(target)], input="n\n")
    assert result.exit_code == 1 and "Continue?" in result.output


def test_on_postgresql_backup_and_restore_point_at_pg_dump(postgres_catalogue_app, tmp_path):
    runner = postgres_catalogue_app.test_cli_runner()
    for args in (["backup", str(tmp_path / "x.sqlite")], ["restore", "--yes", str(__file__)]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1 and "pg_dump --format=custom" in result.output
    assert not Path(tmp_path / "x.sqlite").exists()
