"""A throwaway PostgreSQL cluster for the tests, started from the server binaries on the machine.

The cluster lives in a temporary folder, listens on loopback only, runs with durability off
(it is thrown away), and is stopped when the test session ends. PostgreSQL refuses to run as
root, so when the tests run as root the server runs as the ``postgres`` (or ``nobody``) user.

Without server binaries the PostgreSQL tests skip, unless ``KB_REQUIRE_POSTGRES=1`` (set by
CI), which makes them fail instead.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy.engine import URL, make_url

REQUIRED = os.environ.get("KB_REQUIRE_POSTGRES") == "1"
SUPERUSER = "span"


def server_binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` with ``initdb`` and ``pg_ctl``, or one named
    by ``KB_POSTGRES_BIN``."""
    named = os.environ.get("KB_POSTGRES_BIN")
    candidates = [named] if named else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        folder = Path(candidate)
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_user() -> str | None:
    """Who runs the server: None for the current user, unless that is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root with no 'postgres' or 'nobody' user to run PostgreSQL")


class Server:
    """A PostgreSQL server the tests may create and drop databases on."""

    host = "127.0.0.1"
    port = 5432
    user = SUPERUSER
    password: str | None = None
    admin_database = "postgres"

    def url(self, database: str) -> str:
        return URL.create(
            "postgresql+psycopg", self.user, self.password, self.host, self.port, database
        ).render_as_string(hide_password=False)

    def execute(self, statement: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE)."""
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, password=self.password,
            dbname=self.admin_database, autocommit=True,
        ) as connection:  # fmt: skip
            connection.execute(statement)

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database (a copy of ``template`` if given); returns its SQLAlchemy URL."""
        copy = f' TEMPLATE "{template}"' if template else ""
        self.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Nothing to stop on a server the tests did not start."""


class External(Server):
    """An existing server named by URL (``KB_TEST_DATABASE=postgresql://...``)."""

    def __init__(self, url: str):
        parsed = make_url(url)
        self.host = parsed.host or "127.0.0.1"
        self.port = parsed.port or 5432
        self.user = parsed.username or SUPERUSER
        self.password = parsed.password
        self.admin_database = parsed.database or "postgres"


class Cluster(Server):
    """One running PostgreSQL server with a trust-authenticated superuser on loopback."""

    def __init__(self, binaries: Path):
        self.binaries = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="span-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.system_user = _server_user()
        if self.system_user:
            entry = pwd.getpwnam(self.system_user)
            os.chmod(self.folder, 0o700)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(a) for a in args]
        if self.system_user:
            command = ["runuser", "-u", self.system_user, "--", *command]
        return subprocess.run(
            command, cwd=self.folder, capture_output=True, text=True, check=check, timeout=120
        )

    def start(self) -> Cluster:
        """Create the cluster and start its server."""
        self._run(
            self.binaries / "initdb", "-D", self.data, "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        self.resume()
        return self

    def resume(self) -> None:
        """Start the server (again) on the same port and data."""
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.folder}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        result = self._run(
            self.binaries / "pg_ctl", "-D", self.data, "-l", self.folder / "server.log",
            "-o", options, "-w", "-t", "60", "start", check=False,
        )  # fmt: skip
        if result.returncode != 0:
            log = (self.folder / "server.log").read_text(errors="replace")
            raise RuntimeError(f"PostgreSQL did not start:\n{result.stderr}\n{log[-2000:]}")

    def pause(self) -> None:
        """Stop the server, keeping its data (a restart is ``pause`` then ``resume``)."""
        self._run(self.binaries / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        self._run(self.binaries / "pg_ctl", "-D", self.data, "-m", "immediate", "stop",
                  check=False)  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)
