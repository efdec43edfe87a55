"""Load on the production server: ``make serve`` with 2 workers on loopback, SQLite or PostgreSQL.

    .venv/bin/python bench/load.py                          # SQLite, the sample catalogue
    .venv/bin/python bench/load.py --database postgresql    # a throwaway PostgreSQL cluster
    .venv/bin/python bench/load.py --database postgresql://user@host/db   # an existing one
    .venv/bin/python bench/load.py --entries 10000          # a synthetic catalogue instead

Sets the site up as ``make serve`` does (``kb init`` with the sample catalogue, gunicorn with
``gunicorn.conf.py``, ``KB_WORKERS=2``), then runs each scenario for ``--seconds`` with
``--clients`` client processes, each on one keep-alive connection, one request at a time:
a static file (the ceiling: no Python page code runs), the home page, a sector listing, an
entry page, a search, and a read mix in which every tenth step is a save through the edit
form by a signed-in editor (each client edits an entry of its own, so saves do not
conflict). Prints requests per second, p50 and p99 in milliseconds, each
scenario's throughput as a ratio of the static file's, errors (any answer other than 200,
or 302 for a save), the server's CPU time per request (its workers and their merging
processes, not a database server; Linux only), and any worker that crashed (a fatal error in
the server's log). Exits 1 if there was any error or crash. ``--threads N`` overrides the
threads per worker. The CPU time does not count the clients' share of the machine, so it
is a second view when comparing code: run before and after more than once either way.

Readers are anonymous, as most are (no cookies), so public pages may come from the shared page
cache; ``--no-page-cache`` turns it off to measure the pages' own code. Entry pages are chosen
the way readers choose them, a few often and most rarely (Zipf over the catalogue); every
search is a different query (two words from a list), so searches measure searching, not the
cache. The read mix is signed in, so none of it is cached.

The clients share the machine with the server, so the figures are for comparing pages with
each other and with the ceiling measured in the same run, not absolute capacity.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import multiprocessing
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.accounts.demo import DEMO_PASSWORD  # noqa: E402
from kb.db import utcnow  # noqa: E402
from kb.models import Entry, Organisation, Sector, User  # noqa: E402
from tests.editor_support import Page  # noqa: E402

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
WORDS = (  # noqa: SIM905 - easier to read and change as a sentence
    "podcast social media flood warnings qr codes recruitment accessibility police council "
    "health fire staff guidance twitter facebook video emergency campaign community young "
    "people volunteers evaluation policy training engagement alerts winter weather missing "
    "road safety mental wellbeing vaccination school housing library events survey"
).split()
SEARCH_ORDERS = [{}, {"sort": "newest"}, {"sort": "most-borrowed"}]
# Searches a measured run makes before repeating one; the warm-up uses the last thousand.
DISTINCT_SEARCHES = len(WORDS) ** 2 * len(SEARCH_ORDERS) - 1_000
SCENARIOS = ["static file", "home", "sector listing", "entry page", "search", "read mix + saves"]


class Visitor:
    """One client: a keep-alive connection, cookies, and the answers it timed."""

    def __init__(self, port: int):
        self.port = port
        self.connection: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}
        self.times: list[float] = []
        self.errors: list[str] = []

    def request(self, method: str, path: str, form: dict | None = None, expect: int = 200):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            pairs = form.items(multi=True) if hasattr(form, "getlist") else form.items()
            body = urlencode(list(pairs)).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as error:
            self.errors.append(f"{method} {path}: {error!r}")
            self._close()
            return None
        self.times.append(time.perf_counter() - started)
        if response.getheader("Connection", "").lower() == "close":
            self._close()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        if response.status != expect:
            self.errors.append(f"{method} {path}: {response.status}")
            return None
        return text

    def _close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection = None

    def sign_in(self, email: str) -> None:
        page = self.request("GET", "/login")
        token = CSRF.search(page).group(1)
        form = {"csrf_token": token, "email": email, "password": DEMO_PASSWORD}
        self.request("POST", "/login", form, expect=302)
        self.times.clear()

    def save(self, slug: str, number: int) -> None:
        """The edit form as a browser submits it, with a new summary."""
        page = self.request("GET", f"/entries/{slug}/edit")
        if page is None:
            return
        form = Page(page).form("/edit")
        form["action"] = "save"
        form["summary"] = f"Load test save {number} of {slug}."[:200]
        self.request("POST", f"/entries/{slug}/edit", form, expect=302)


def _paths(site: dict, scenario: str, step: int) -> str:
    if scenario == "static file":
        return "/static/css/span.css"
    if scenario == "home":
        return "/"
    if scenario == "sector listing":
        return f"/sectors/{site['sector']}"
    if scenario == "entry page":
        return f"/entries/{site['rng'].choices(site['entries'], cum_weights=site['zipf'])[0]}"
    # A different pair of words each time, then each pair in another order of results.
    pair, order = step % len(WORDS) ** 2, step // len(WORDS) ** 2 % len(SEARCH_ORDERS)
    first, second = divmod(pair, len(WORDS))
    query = {"q": f"{WORDS[first]} {WORDS[second]}", **SEARCH_ORDERS[order]}
    return f"/search?{urlencode(query)}"


def _client(port, site: dict, scenario: str, seconds: float, number: int, start: int, results):
    visitor = Visitor(port)
    site = {**site, "rng": random.Random(number)}
    site["zipf"] = list(
        itertools.accumulate(1 / rank for rank in range(1, len(site["entries"]) + 1))
    )
    saves = 0
    if scenario == "read mix + saves":
        editor, own = site["editors"][number % len(site["editors"])]
        visitor.sign_in(editor)
    deadline = time.perf_counter() + seconds
    step = start + number * 997  # clients ask for different things
    stride = 1
    if scenario == "search":  # clients take turns through the queries, so none repeats one
        step, stride = start + number, site["clients"]
    while time.perf_counter() < deadline:
        if scenario != "read mix + saves":
            visitor.request("GET", _paths(site, scenario, step))
        elif step % 10 == 9:
            visitor.save(own[(number // len(site["editors"])) % len(own)], step)
            saves += 1
        else:
            kind = ["home", "sector listing", "entry page", "search"][step % 4]
            visitor.request("GET", _paths(site, kind, step // 4))
        step += stride
    results.put((visitor.times, visitor.errors, saves))


def run(port: int, site: dict, scenario: str, clients: int, seconds: float, start=0) -> dict:
    """One scenario with ``clients`` processes at once; their timings pooled."""
    results = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(
            target=_client,
            args=(port, {**site, "clients": clients}, scenario, seconds, n, start, results),
        )
        for n in range(clients)
    ]
    for process in processes:
        process.start()
    times, errors, saves = [], [], 0
    for _ in processes:
        t, e, s = results.get(timeout=seconds + 120)
        times += t
        errors += e
        saves += s
    for process in processes:
        process.join()
    times.sort()
    return {
        "scenario": scenario,
        "requests": len(times),
        "rate": len(times) / seconds,
        "p50": 1000 * statistics.median(times) if times else 0.0,
        "p99": 1000 * times[min(len(times) - 1, int(0.99 * len(times)))] if times else 0.0,
        "errors": errors,
        "saves": saves,
    }


def _site(url: str) -> dict:
    """What the clients ask for: a sector, entries, and editors with their own entries."""
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(Organisation.slug, Entry.slug, Sector.slug)
            .join(Entry, Entry.organisation_id == Organisation.id)
            .join(Sector, Sector.id == Organisation.sector_id)
            .where(Entry.status == "published")
            .order_by(Organisation.slug, Entry.id)
        ).all()
        editors = dict(
            connection.execute(
                select(Organisation.slug, User.email)
                .join(User, User.organisation_id == Organisation.id)
                .where(User.role == "editor")
            ).all()
        )
    engine.dispose()
    by_org: dict[str, list[str]] = {}
    sectors: dict[str, int] = {}
    for org, entry, sector in rows:
        by_org.setdefault(org, []).append(entry)
        sectors[sector] = sectors.get(sector, 0) + 1
    return {
        "sector": max(sectors, key=sectors.get),
        "entries": [entry for _, entry, _ in rows],
        "editors": [
            (editors[org], entries[:3]) for org, entries in by_org.items() if org in editors
        ],
    }


def _synthetic(url: str, folder: Path, entries: int) -> None:
    """A catalogue of ``entries`` synthetic entries, and an editor in each of four organisations
    (for the read mix), before ``kb init`` indexes it."""
    sys.path.insert(0, str(ROOT / "bench"))
    from synthetic import build_catalogue

    from kb import create_app
    from kb.accounts.passwords import hash_password
    from kb.cli import upgrade_database
    from kb.db import db

    app = create_app({"SECRET_KEY": "load", "DATABASE_URL": url, "TESTING": True,
                      "SEARCH_INDEX_DIR": str(folder / "search")})  # fmt: skip
    with app.app_context():
        upgrade_database()
        build_catalogue(db.session, entries)
        for org in db.session.scalars(select(Organisation).order_by(Organisation.id).limit(4)):
            db.session.add(User(email=f"editor@{org.slug}.example", display_name="Load editor",
                                organisation=org, role="editor", approved_at=utcnow(),
                                password_hash=hash_password(DEMO_PASSWORD)))  # fmt: skip
        db.session.commit()
        db.engine.dispose()


def _serve(
    url: str, folder: Path, port: int, page_cache: bool = True, threads: int | None = None
) -> subprocess.Popen:
    """``make serve WORKERS=2`` in ``folder``: kb init, then gunicorn."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KB_")},
        "KB_DATABASE_URL": url,
        "KB_INSTANCE_PATH": str(folder),
        "KB_SECRET_KEY": "load-test-secret",
        "KB_SECURE_COOKIES": "0",  # plain HTTP on loopback
        "KB_BIND": f"127.0.0.1:{port}",
        "KB_WORKERS": "2",
        "KB_PAGE_CACHE": "1" if page_cache else "0",
        **({"KB_THREADS": str(threads)} if threads else {}),
    }
    bin_dir = Path(sys.executable).parent
    subprocess.run([bin_dir / "kb", "init"], cwd=ROOT, env=env, check=True, capture_output=True)
    log = open(folder / "server.log", "wb")  # noqa: SIM115 (closed with the process)
    server = subprocess.Popen(
        [bin_dir / "gunicorn", "--config", "gunicorn.conf.py", "kb:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit((folder / "server.log").read_text()[-3000:])
        try:
            if Visitor(port).request("GET", "/healthz") is not None:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database", default="sqlite", help="sqlite, postgresql (a throwaway cluster) or a URL"
    )
    parser.add_argument("--seconds", type=float, default=10, help="per scenario")
    parser.add_argument("--clients", type=int, default=8, help="client processes at once")
    parser.add_argument("--entries", type=int, default=0, help="a synthetic catalogue this big")
    parser.add_argument("--no-page-cache", action="store_true", help="render every page")
    parser.add_argument(
        "--threads", type=int, help="threads per worker (default: gunicorn.conf.py's choice)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SCENARIOS[1:],
        metavar="SCENARIO",
        help="run only these scenarios (and the static file)",
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="span-load-"))
    cluster = None
    if args.database == "sqlite":
        url = f"sqlite:///{folder / 'kb.sqlite'}"
    elif args.database == "postgresql":
        from tests import postgres

        binaries = postgres.server_binaries()
        if binaries is None:
            raise SystemExit("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin)")
        cluster = postgres.Cluster(binaries).start()
        url = cluster.create_database("load")
    else:
        url = args.database
    port = _free_port()
    if args.entries:
        _synthetic(url, folder, args.entries)
    server = _serve(url, folder, port, page_cache=not args.no_page_cache, threads=args.threads)
    try:
        site = _site(url)
        for scenario in SCENARIOS[1:5]:  # warm up every worker, its connections and searchers
            # Searches from the end of the list, which the measured run does not reach.
            run(port, site, scenario, args.clients, 1, start=DISTINCT_SEARCHES)
        catalogue = f"{args.entries:,} synthetic entries" if args.entries else "sample catalogue"
        cache = "page cache off" if args.no_page_cache else "page cache on"
        threads = f"{args.threads} threads each" if args.threads else "threads as configured"
        print(f"{_describe(url)}, {catalogue}, {cache}, gunicorn 2 workers ({threads}), "
              f"{args.clients} clients, {args.seconds:g} s per scenario")  # fmt: skip
        print(f"{'scenario':<18} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'x static':>9} {'errors':>6} {'server CPU ms/req':>18}")  # fmt: skip
        ceiling, failed = None, 0
        for scenario in [s for s in SCENARIOS if not args.only or s in {SCENARIOS[0], *args.only}]:
            used = _cpu_seconds(server.pid)
            result = run(port, site, scenario, args.clients, args.seconds)
            used = _cpu_seconds(server.pid) - used
            ceiling = ceiling or result["rate"]
            failed += len(result["errors"])
            saves = f"  ({result['saves']} saves)" if result["saves"] else ""
            ratio = result["rate"] / ceiling
            cpu = f"{1000 * used / result['requests']:.2f}" if result["requests"] and used else "-"
            print(f"{scenario:<18} {result['requests']:>8} {result['rate']:>8.1f} "
                  f"{result['p50']:>8.1f} {result['p99']:>8.1f} "
                  f"{ratio:>9.3f} {len(result['errors']):>6} {cpu:>18}{saves}")  # fmt: skip
            for error in result["errors"][:5]:
                print(f"    {error}")
            if scenario == "search" and result["requests"] > DISTINCT_SEARCHES:
                print(f"    more searches than the {DISTINCT_SEARCHES:,} distinct ones measured: "
                      "some came from the page cache (use fewer --seconds)")  # fmt: skip
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        if cluster is not None:
            cluster.stop()
    log = folder / "server.log"
    crashes = log.read_text(errors="replace").count("Fatal Python error")
    if crashes:  # a worker killed by a signal: its clients saw connections reset
        print(f"worker crashes: {crashes} (see {log})")
    elif failed:
        print(f"the server's log: {log}")
    else:
        shutil.rmtree(folder, ignore_errors=True)  # the catalogue, index and log of this run
    return 1 if failed or crashes else 0


def _cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` and every process under it (the server's
    workers and their merging processes, and those of them that have ended), from ``/proc``:
    0 where there is none."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    parents, used = {}, {}
    for folder in Path("/proc").glob("[0-9]*"):
        try:
            fields = (folder / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone since listed
        parents[int(folder.name)] = int(fields[1])
        used[int(folder.name)] = sum(map(int, fields[11:15])) / tick  # own and ended children's
    family, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    return sum(used.get(member, 0.0) for member in family)


def _describe(url: str) -> str:
    return "SQLite" if url.startswith("sqlite") else "PostgreSQL"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
