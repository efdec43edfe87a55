"""Chaos on loopback: two servers as ``make serve`` runs them (gunicorn, 2 workers each, an index
folder each) on one PostgreSQL database, 60 seconds of concurrent searches and saves (some
conflicting), two workers SIGKILLed and replaced, and the database restarted once.

Afterwards: no 500 at all; a 503 only while the database was down (the "briefly unavailable"
page) or while an index was rebuilt ("catching up"); every save that answered a redirect is
in the database; both indexes equal the database; no result page listed an entry twice.

Also: a worker killed by a fatal signal leaves every thread's traceback in the server's log.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine, select

from kb.accounts.demo import DEMO_PASSWORD
from kb.cli import upgrade_database
from kb.config import ROOT
from kb.db import db
from kb.models import Entry, Organisation, Revision
from kb.search import get_index
from kb.search.index import close_all
from tests import postgres
from tests.conftest import SEED_DIR, _catalogue_with_demo_accounts, make_app
from tests.databases import ON_POSTGRES
from tests.editor_support import Page
from tests.http_client import Client

pytestmark = pytest.mark.skipif(
    ON_POSTGRES, reason="runs once per suite, in the SQLite run: it starts its own PostgreSQL"
)

SECONDS = 60
KILLS_AT = (10, 24)  # seconds into the run: SIGKILL one worker (server A, then server B)
RESTART_AT = 38  # the database stops, stays down DOWN_FOR seconds, and starts again
DOWN_FOR = 3
QUERIES = ["podcast", "qr codes", "flood warnings", "social media", "chaos", "recruitment"]
RESULTS = re.compile(r'<ol class="entry-list search-results".*?</ol>', re.S)
RESULT_LINK = re.compile(r'class="entry-card-title"><a href="/entries/([a-z0-9-]+)"')
ACCESS_LINE = re.compile(r"rid=([0-9a-f]{32}) 127\.0\.0\.1 (GET|POST) (/\S*) (\d{3}) \d+ (\d+)ms$")


class Server:
    """gunicorn as ``make serve`` starts it, for one host's index folder."""

    def __init__(self, name: str, url: str, folder: Path):
        self.name, self.url, self.folder = name, url, folder
        self.port = postgres._free_port()
        self.log = folder / "server.log"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KB_")},
            "KB_DATABASE_URL": url,
            "KB_INSTANCE_PATH": str(folder),
            "KB_SEARCH_INDEX_DIR": str(folder / "search"),
            "KB_SECRET_KEY": "chaos-test-secret",
            "KB_SECURE_COOKIES": "0",  # plain HTTP on loopback
            "KB_BIND": f"127.0.0.1:{self.port}",
            "KB_WORKERS": "2",
        }
        gunicorn = Path(sys.executable).with_name("gunicorn")
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(gunicorn), "--config", "gunicorn.conf.py", "kb:create_app()"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.wait_until_serving()

    def workers(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def wait_until_serving(self, workers: int = 2, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if len(self.workers()) == workers and Client(self.port).get("/healthz").status:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server {self.name} did not start:\n{self.log.read_text()[-3000:]}")

    def kill_a_worker(self) -> int:
        victim = self.workers()[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            current = self.workers()
            if victim not in current and len(current) == 2:
                return victim
            time.sleep(0.05)
        raise AssertionError(f"server {self.name}: the killed worker was not replaced")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


class Record:
    """Everything the clients saw, with times in seconds from the start."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.start = time.monotonic()
        # started, ended, server, path, status, text
        self.answers: list[tuple[float, float, str, str, int, str]] = []
        # started, failed, server, path, error
        self.dropped: list[tuple[float, float, str, str, str]] = []
        self.saved: list[tuple[str, int, str]] = []  # slug, revision, summary
        self.conflicts = 0
        self.duplicates: list[tuple[str, list[str]]] = []
        self.kills: list[float] = []
        self.down: tuple[float, float] | None = None
        self.failures: list[str] = []

    def now(self) -> float:
        return time.monotonic() - self.start

    def ask(self, server: Server, client: Client, method: str, path: str, form=None):
        at = self.now()
        try:
            answer = client.request(method, path, form)
        except (OSError, http.client.HTTPException) as error:
            with self.lock:
                self.dropped.append((at, self.now(), server.name, path, repr(error)))
            return None
        with self.lock:
            text = answer.text[:3000] if answer.status >= 500 else ""
            ended = at + answer.seconds
            self.answers.append((at, ended, server.name, path.split("?")[0], answer.status, text))
        return answer


def _searcher(record: Record, servers: list[Server], number: int, stop: threading.Event):
    client_for = {s.name: Client(s.port) for s in servers}
    turn = number
    while not stop.is_set():
        server = servers[turn % len(servers)]
        query = QUERIES[turn % len(QUERIES)]
        page = 1 + (turn // len(QUERIES)) % 2
        turn += 1
        path = f"/search?{urlencode({'q': query, 'page': page})}"
        answer = record.ask(server, client_for[server.name], "GET", path)
        if answer is None or answer.status != 200:
            continue
        listing = RESULTS.search(answer.text)
        slugs = RESULT_LINK.findall(listing.group(0)) if listing else []
        if len(slugs) != len(set(slugs)):
            with record.lock:
                record.duplicates.append((f"{server.name} {query} page {page}", slugs))


def _saver(record: Record, servers, email: str, slugs: list[str], stop: threading.Event):
    """Edits ``slugs`` in turn through the edit form, alternating servers."""
    clients = {}
    for server in servers:
        clients[server.name] = Client(server.port)
        clients[server.name].sign_in(email, DEMO_PASSWORD)
    number = 0
    while not stop.is_set():
        server = servers[number % len(servers)]
        client = clients[server.name]
        slug = slugs[number % len(slugs)]
        number += 1
        form_page = record.ask(server, client, "GET", f"/entries/{slug}/edit")
        if form_page is None or form_page.status != 200:
            time.sleep(0.2)
            continue
        form = Page(form_page.text).form("/edit")
        form["action"] = "save"
        summary = f"Chaos save {email.split('@')[0]} {number} on {server.name}."
        form["summary"] = summary
        answer = record.ask(server, client, "POST", f"/entries/{slug}/edit", form)
        if answer is None:
            continue
        with record.lock:
            if answer.status == 302:
                record.saved.append((slug, int(form["base_revision"]) + 1, summary))
            elif answer.status == 409:
                record.conflicts += 1


def _chaos(record: Record, servers: list[Server], cluster: postgres.Cluster, stop):
    try:
        for kill_at, server in zip(KILLS_AT, servers, strict=True):
            while record.now() < kill_at:
                time.sleep(0.05)
            record.kills.append(record.now())
            server.kill_a_worker()
        while record.now() < RESTART_AT:
            time.sleep(0.05)
        went_down = record.now()
        cluster.pause()
        time.sleep(DOWN_FOR)
        cluster.resume()
        record.down = (went_down, record.now())
    except BaseException as error:  # reported by the test
        record.failures.append(repr(error))
        stop.set()


def _catalogue(cluster: postgres.Cluster, tmp_path: Path) -> str:
    url = cluster.create_database("chaos")
    app = make_app(tmp_path / "setup", url)
    with app.app_context():
        upgrade_database()
        _catalogue_with_demo_accounts(db.session, SEED_DIR)
        db.session.commit()
        db.engine.dispose()
    return url


def _build_index(url: str, folder: Path) -> None:
    app = make_app(folder, url)
    with app.app_context():
        get_index().ensure()
        db.engine.dispose()
    close_all()


def _editors_and_entries(url: str) -> dict[str, list[str]]:
    """Three writers: two people of one organisation editing the same entries (so they
    conflict) and an editor of another."""
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(Organisation.slug, Entry.slug)
            .join(Entry, Entry.organisation_id == Organisation.id)
            .where(Entry.status == "published")
            .order_by(Organisation.slug, Entry.id)
        ).all()
    engine.dispose()
    by_org: dict[str, list[str]] = {}
    for org, entry in rows:
        by_org.setdefault(org, []).append(entry)
    first, second = sorted(by_org, key=lambda o: -len(by_org[o]))[:2]
    return {
        f"editor@{first}.example": by_org[first][:3],
        f"member@{first}.example": by_org[first][:3],
        f"editor@{second}.example": by_org[second][:3],
    }


@pytest.fixture
def cluster():
    """A cluster of this test's own, since the test restarts it."""
    binaries = postgres.server_binaries()
    if binaries is None:
        if postgres.REQUIRED:
            pytest.fail("PostgreSQL server binaries not found and KB_REQUIRE_POSTGRES=1")
        pytest.skip("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin)")
    running = postgres.Cluster(binaries).start()
    yield running
    running.stop()


def test_two_servers_survive_killed_workers_and_a_database_restart(cluster, tmp_path):
    url = _catalogue(cluster, tmp_path)
    folders = [tmp_path / "host-a", tmp_path / "host-b"]
    for folder in folders:
        _build_index(url, folder)
    writers = _editors_and_entries(url)
    servers = [Server(name, url, folder) for name, folder in zip("AB", folders, strict=True)]
    record, stop = Record(), threading.Event()
    try:
        threads = [threading.Thread(target=_searcher, args=(record, servers, n, stop))
                   for n in range(3)]  # fmt: skip
        threads += [threading.Thread(target=_saver, args=(record, servers, email, slugs, stop))
                    for email, slugs in writers.items()]  # fmt: skip
        threads.append(threading.Thread(target=_chaos, args=(record, servers, cluster, stop)))
        for thread in threads:
            thread.daemon = True
            thread.start()
        stop.wait(SECONDS)
        stop.set()
        for thread in threads:
            thread.join(60)
        # Each host catches up on its next search, then /healthz says so.
        for server in servers:
            assert Client(server.port).get("/search?q=chaos").status == 200
            assert Client(server.port).get("/healthz").status == 200
    finally:
        for server in servers:
            server.stop()
    _summarise(record)
    _check_answers(record, servers)
    _check_saves(url, record)
    for folder in folders:
        _check_index(url, folder)
    _check_access_logs(servers)


def _summarise(record: Record) -> None:
    """What happened, for whoever runs this with ``-s``."""
    statuses: dict[int, int] = {}
    for answer in record.answers:
        statuses[answer[4]] = statuses.get(answer[4], 0) + 1
    print(
        f"\nchaos: {len(record.answers)} answers {dict(sorted(statuses.items()))}, "
        f"{len(record.saved)} saves redirected, {record.conflicts} conflicts, "
        f"{len(record.dropped)} connections dropped, workers killed at "
        f"{[round(k, 1) for k in record.kills]} s, database down "
        f"{[round(t, 1) for t in record.down or ()]} s"
    )


def _check_answers(record: Record, servers: list[Server]) -> None:
    assert not record.failures, record.failures
    assert len(record.kills) == 2 and record.down is not None
    statuses = [answer[4] for answer in record.answers]
    assert statuses.count(200) > 100 and len(record.saved) > 20, (len(statuses), record.saved)
    assert record.conflicts > 0, "no save conflicted"
    assert 500 not in statuses, [a for a in record.answers if a[4] == 500][:3]
    down_from, down_to = record.down
    for started, ended, server, path, status, text in record.answers:
        if status != 503:
            continue
        if "Briefly unavailable" in text:
            # Requests in flight when the database stopped, or sent just after it started.
            assert ended >= down_from and started <= down_to + 3, (
                started, ended, record.down, server, path,
            )  # fmt: skip
        else:
            assert "Search is catching up" in text, (started, server, path, text[:500])
    # A SIGKILLed worker drops what it was answering; nothing else may drop a connection.
    # (A request counts if it was in flight at a kill, or sent while the worker was replaced.)
    windows = [(k, k + 5) for k in record.kills] + [(down_from, down_to + 3)]
    logs = {server.name: server.log for server in servers}
    for started, failed, server, path, error in record.dropped:
        in_flight = any(started <= b and failed >= a for a, b in windows)
        # In full, with the server's log: a crash or a restarted worker shows there.
        assert in_flight, (
            f"{error} at {started:.2f}-{failed:.2f} s on {server} {path}; kills {record.kills}, "
            f"database down {record.down}; log:\n{logs[server].read_text(errors='replace')[-4000:]}"
        )
    assert not record.duplicates, record.duplicates[:3]


def _check_saves(url: str, record: Record) -> None:
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = {
            (slug, number): summary
            for slug, number, summary in connection.execute(
                select(Entry.slug, Revision.number, Revision.summary).join(
                    Revision, Revision.entry_id == Entry.id
                )
            )
        }
    engine.dispose()
    missing = [s for s in record.saved if stored.get((s[0], s[1])) != s[2]]
    assert not missing, missing


def _check_index(url: str, folder: Path) -> None:
    app = make_app(folder, url)
    try:
        with app.app_context():
            index = get_index()
            index.wait_for_repair(60)
            index.catch_up(timeout=10)
        result = app.test_cli_runner().invoke(args=["index-check"])
        assert result.exit_code == 0, f"{folder.name}: {result.output}"
    finally:
        with app.app_context():
            db.engine.dispose()
        close_all()


def _check_access_logs(servers: list[Server]) -> None:
    """Every request line names its method, path, status, duration and request id."""
    for server in servers:
        log = server.log.read_text().splitlines()
        lines = [line for line in log if re.match(r"\[\d\d/\w{3}/\d{4}:", line)]  # access lines
        assert len(lines) > 50, server.log.read_text()[-2000:]
        for line in lines:
            assert ACCESS_LINE.search(line), line


def test_a_worker_killed_by_a_fatal_signal_leaves_its_tracebacks_in_the_log(tmp_path):
    """gunicorn.conf.py turns faulthandler on in each worker: a crash (here a SIGSEGV sent to
    the worker) is written to the log with every thread's traceback, and the worker is
    replaced."""
    url = f"sqlite:///{tmp_path / 'kb.sqlite'}"
    app = make_app(tmp_path / "setup", url)
    with app.app_context():
        upgrade_database()
        db.engine.dispose()
    server = Server("A", url, tmp_path)
    try:
        victim = server.workers()[0]
        os.kill(victim, signal.SIGSEGV)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and victim in server.workers():
            time.sleep(0.05)
        server.wait_until_serving()
    finally:
        server.stop()
    log = server.log.read_text(errors="replace")
    assert "Fatal Python error: Segmentation fault" in log
    assert "Current thread" in log or "Thread 0x" in log
