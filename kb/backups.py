"""Backing up a SQLite database while the site serves, and putting a backup back.

A backup uses SQLite's online backup API in one step: one read transaction, so it is a
consistent snapshot, and in WAL mode writers carry on meanwhile. It is written beside the
target and renamed into place once SQLite's own check passes, so a backup that exists is whole.

Restoring copies the backup into the live database through the same API, so other processes'
connections stay valid and see the restored data. The restored change log is older than what
the search indexes have applied, so it is moved past every id any index may have seen, with
the log horizon: every index folder then rebuilds from the restored database (this host's at
once, any other on its next catch-up) instead of trusting marks from the future.

PostgreSQL has its own tools: the README gives the ``pg_dump`` and ``pg_restore`` lines.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, insert, inspect, select, update

from kb.db import SQLITE_BUSY_TIMEOUT_MS, utcnow
from kb.models import SearchChange, SearchLogHorizon, SearchReplica

POSTGRES_ADVICE = (
    "Span's database is not SQLite. For PostgreSQL use its own tools: "
    'pg_dump --format=custom --file=span.dump "$KB_DATABASE_URL" to back up, and '
    'pg_restore --clean --if-exists --no-owner --dbname="$KB_DATABASE_URL" span.dump '
    "(then 'kb reindex' on every host) to restore; see the README."
)


class BackupError(Exception):
    """A backup or restore that cannot be done, with the reason in words."""


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    entries: int
    revisions: int


def database_file(engine: Engine) -> Path:
    """The SQLite file behind ``engine``; anything else is refused with advice."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        raise BackupError(POSTGRES_ADVICE)
    return Path(engine.url.database)


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    target = f"file:{path}?mode=ro" if read_only else f"file:{path}"
    connection = sqlite3.connect(target, uri=True)
    connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    return connection


def _counts(connection: sqlite3.Connection) -> tuple[int, int]:
    entries = connection.execute("SELECT count(*) FROM entries").fetchone()[0]
    return entries, connection.execute("SELECT count(*) FROM revisions").fetchone()[0]


def backup(engine: Engine, target: Path) -> Backup:
    """Copy the live database to ``target`` (which must not exist yet)."""
    source = database_file(engine)
    target = Path(target)
    if target.exists():
        raise BackupError(f"{target} already exists; give the backup a new name.")
    if target.resolve() == source.resolve():
        raise BackupError("A backup cannot overwrite the live database.")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with closing(_connect(source, read_only=True)) as live, closing(_connect(partial)) as copy:
            live.backup(copy)  # one step: one consistent snapshot
            _check(copy, partial)
            entries, revisions = _counts(copy)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return Backup(target, target.stat().st_size, entries, revisions)


def _check(connection: sqlite3.Connection, path: Path) -> None:
    try:
        verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a SQLite database ({error}).") from None
    if verdict != "ok":
        raise BackupError(f"{path} is damaged: {verdict}")
    if not {"alembic_version", "entries", "revisions"} <= tables:
        raise BackupError(f"{path} is not a backup of Span's database.")


def restore(engine: Engine, source: Path, applied_here: int) -> int:
    """Replace the live database's content with the backup at ``source``. Returns the change-log
    id the restored log must start above (``settle_log``, once the database is migrated):
    beyond anything this host's index (``applied_here``) or any registered index applied."""
    live = database_file(engine)
    source = Path(source)
    if source.resolve() == live.resolve():
        raise BackupError("That is the live database itself, not a backup of it.")
    with closing(_connect(source, read_only=True)) as backup_copy:
        _check(backup_copy, source)
        floor = max(applied_here, _highest_mark(engine)) + 1
        with closing(_connect(live)) as target:
            backup_copy.backup(target)
    engine.dispose()  # pooled connections may hold pages of the old file
    return floor


def _highest_mark(engine: Engine) -> int:
    """The highest change-log id the live database knows of, or that an index applied."""
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        if "search_changes" not in tables:
            return 0
        marks = [connection.scalar(select(func.max(SearchChange.id))) or 0]
        if "search_replicas" in tables:
            marks.append(connection.scalar(select(func.max(SearchReplica.applied))) or 0)
            marks.append(connection.scalar(select(func.max(SearchLogHorizon.pruned_through))) or 0)
    return max(marks)


def settle_log(engine: Engine, floor: int) -> None:
    """Make the change log continue above ``floor`` and mark everything below it as pruned, so
    every index that applied ids from before the restore rebuilds itself."""
    with engine.begin() as connection:
        latest = connection.scalar(select(func.max(SearchChange.id))) or 0
        if latest < floor:
            # Entry 0 does not exist, so applying this row changes nothing; it only carries the
            # log's ids (AUTOINCREMENT and sequences alike) past the floor.
            connection.execute(insert(SearchChange).values(id=floor, entry_id=0,
                                                           recorded_at=utcnow()))  # fmt: skip
        horizon = connection.execute(
            update(SearchLogHorizon).where(SearchLogHorizon.id == 1).values(pruned_through=floor)
        )
        if horizon.rowcount == 0:
            connection.execute(insert(SearchLogHorizon).values(id=1, pruned_through=floor))
