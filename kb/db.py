"""The database: declarative base, engine and a session per application context.

Views and services use ``db.session``; the request commits once (see ``kb/errors.py`` for the
rollback on failure, and for the pages shown while the database cannot be reached). SQLite
gets WAL, a busy timeout and foreign keys; PostgreSQL (``KB_DATABASE_URL``, with the
``postgres`` extra) gets connections checked before use and a connect timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLITE_BUSY_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_SECONDS = 5
POOL_TIMEOUT_SECONDS = 10


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """Stores UTC; always hands back timezone-aware datetimes, whatever the backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use kb.db.utcnow() or an aware value")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def take_write_lock(session: Session) -> None:
    """Begin ``session``'s transaction as a writer now, if it has not written yet.

    On SQLite the driver starts a transaction only at the first write, so what was read before
    then may have changed by the time the write lands; beginning with BEGIN IMMEDIATE makes
    the reads that follow exact. PostgreSQL needs nothing here (lock rows with FOR UPDATE)."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        if driver is not None and not driver.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def upsert(session: Session, model):
    """An ``INSERT`` for ``model`` that takes ``on_conflict_do_update``, in the dialect of
    ``session``'s database (SQLite and PostgreSQL spell it alike)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A savepoint of ``session``'s transaction, which a failure rolls back alone.

    On SQLite a savepoint opened before the transaction's first write is a transaction of its
    own: releasing it would commit at once, out of reach of the request's rollback. So a real
    transaction is begun first, taking the write lock that the writes inside are about to take
    anyway."""
    take_write_lock(session)
    with session.begin_nested():
        yield


def make_engine(url: str) -> Engine:
    """An engine for ``url``. SQLite connections get the pragmas above; a database server's
    connections are checked before each use (so a restarted server costs no failed request),
    and a server that cannot be reached fails in seconds rather than hanging a worker."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    options: dict = {"pool_pre_ping": True, "pool_timeout": POOL_TIMEOUT_SECONDS}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    return create_engine(url, **options)


class Database:
    """The unbound database resource, wired to an app by ``init_app``."""

    def init_app(self, app: Flask) -> None:
        url = app.config["DATABASE_URL"]
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = make_engine(url)
        # Each session knows its app, for what reacts to its commits outside a request (the
        # command line, background threads).
        app.extensions["kb.db"] = sessionmaker(
            bind=engine, expire_on_commit=False, info={"kb_app": app}
        )
        app.teardown_appcontext(self._close)

    @property
    def engine(self) -> Engine:
        return current_app.extensions["kb.db"].kw["bind"]

    @property
    def session(self) -> Session:
        if "kb_session" not in g:
            g.kb_session = current_app.extensions["kb.db"]()
        return g.kb_session

    @staticmethod
    def _close(_exc: BaseException | None) -> None:
        session = g.pop("kb_session", None)
        if session is None:
            return
        try:
            session.close()
        except SQLAlchemyError:
            # The database went away mid-request (a restart): the answer is already made, and
            # the dead connection has nothing to roll back. Let the pool forget it.
            session.invalidate()


db = Database()
