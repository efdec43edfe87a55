"""Which database the suite runs on, and fresh databases copied from migrated templates.

``KB_TEST_DATABASE`` chooses, for the ordinary fixtures (``app``, ``catalogue_app``, the live
servers of the browser tests, and everything built on them):

- unset, or ``sqlite``: real SQLite files; a template file is migrated and loaded once per
  session and copied for each test;
- ``postgresql``: a throwaway PostgreSQL cluster started from the server binaries on the
  machine (``tests/postgres.py``); template databases copied with ``CREATE DATABASE ...
  TEMPLATE`` for each test;
- a ``postgresql://user@host:port/db`` URL: the same on an existing server, whose user may
  create databases (every database the tests make is dropped again).

The ``postgres_*`` fixtures always use PostgreSQL, so a test can run on both databases.
"""

from __future__ import annotations

import itertools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

CHOICE = os.environ.get("KB_TEST_DATABASE", "").strip() or "sqlite"
if CHOICE not in {"sqlite", "postgresql"} and not CHOICE.startswith(("postgresql:", "postgres:")):
    raise RuntimeError(f"KB_TEST_DATABASE must be sqlite, postgresql or a PostgreSQL URL: {CHOICE}")
ON_POSTGRES = CHOICE != "sqlite"
EXTERNAL_POSTGRES = CHOICE if CHOICE not in {"sqlite", "postgresql"} else None

_numbers = itertools.count(1)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class SQLiteFiles:
    """Databases as files: a new one is a path, a copy is a file copy."""

    name = "sqlite"

    def empty(self, folder: Path) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        return sqlite_url(folder / "kb.sqlite")

    def copy(self, template: str, folder: Path) -> str:
        url = self.empty(folder)
        shutil.copyfile(make_url(template).database, make_url(url).database)
        return url

    def drop(self, url: str) -> None:
        """Files go with the test's temporary folder."""


class PostgresDatabases:
    """Databases on one PostgreSQL server (a throwaway cluster, or one named by URL)."""

    name = "postgresql"

    def __init__(self, server):
        self.server = server

    def _name(self) -> str:
        return f"span_{os.getpid()}_{next(_numbers)}"

    def empty(self, folder: Path) -> str:
        return self.server.create_database(self._name())

    def copy(self, template: str, folder: Path) -> str:
        return self.server.create_database(self._name(), template=make_url(template).database)

    def drop(self, url: str) -> None:
        self.server.drop_database(make_url(url).database)


@dataclass(frozen=True)
class Template:
    """A migrated, loaded database and the folder holding its built search index."""

    url: str
    folder: Path
    databases: SQLiteFiles | PostgresDatabases

    def copy(self, instance: Path) -> str:
        """A fresh copy of the database, and of its search index under ``instance/search``;
        returns the copy's URL (drop it with ``drop``)."""
        shutil.copytree(self.folder / "search", instance / "search", symlinks=True)
        return self.databases.copy(self.url, instance.parent)

    def drop(self, url: str) -> None:
        self.databases.drop(url)
