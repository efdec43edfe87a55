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
import queue
import shutil
import threading
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
    """Databases on one PostgreSQL server (a throwaway cluster, or one named by URL).

    Copying a template takes PostgreSQL a tenth of a second or so, mostly waiting on files, so
    a background thread keeps the next copies of each template ready and drops used ones
    while the tests run."""

    name = "postgresql"
    READY = 2  # copies of each template kept made in advance

    def __init__(self, server):
        self.server = server
        self._ready: dict[str, queue.SimpleQueue] = {}
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._work, name="test-databases", daemon=True)
        self._worker.start()

    def _name(self) -> str:
        return f"span_{os.getpid()}_{next(_numbers)}"

    def empty(self, folder: Path) -> str:
        return self.server.create_database(self._name())

    def copy(self, template: str, folder: Path) -> str:
        source = make_url(template).database
        if source not in self._ready:
            self._ready[source] = queue.SimpleQueue()
            for _ in range(self.READY):
                self._jobs.put(("copy", source))
        self._jobs.put(("copy", source))  # the one that replaces what is taken now
        try:
            return self._ready[source].get_nowait()
        except queue.Empty:
            return self.server.create_database(self._name(), template=source)

    def drop(self, url: str) -> None:
        self._jobs.put(("drop", make_url(url).database))

    def close(self) -> None:
        """Drop every database made in advance, once the jobs before are done."""
        self._jobs.put(("stop", None))
        self._worker.join(120)
        for ready in self._ready.values():
            while not ready.empty():
                self.server.drop_database(make_url(ready.get_nowait()).database)

    def _work(self) -> None:
        while True:
            job, name = self._jobs.get()
            if job == "stop":
                return
            try:
                if job == "copy":
                    url = self.server.create_database(self._name(), template=name)
                    self._ready[name].put(url)
                else:
                    self.server.drop_database(name)
            except Exception:  # the test that needed it makes its own, and says why if it fails
                continue


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
