"""Search cost on a synthetic catalogue, against an SQLite FTS5 baseline in the same run.

    .venv/bin/python bench/search_bench.py               # 10,000 entries, 200 timed queries
    .venv/bin/python bench/search_bench.py --n 50000
    .venv/bin/python bench/search_bench.py --profile     # and cProfile the full-page loop

The catalogue (``synthetic.py``), the FTS5 table and the index rebuilds are made in a child
process, so the resident memory printed is that of a process serving searches. Then, with the
query mix interleaved across engines:

- full page: what ``/search`` does short of rendering: ``catch_up(timeout=0)`` and
  ``kb.search.service.search`` in a fresh app context (exact total, five facet counts, 20
  highlighted hits, their rows loaded through the ORM);
- plain search: the Whoosh query for the top 20 visible documents, nothing else;
- FTS5 page: MATCH into a temporary table of published ids, count(*), five GROUP BY facet
  counts, top 20 by bm25() with highlight() and snippet(), rows loaded as Span loads them;
- save to searchable: ``save_edit`` and commit, then ``catch_up()`` (what the request does
  after saving), then searches for a new word in the title until the entry is found.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import multiprocessing
import pstats
import random
import resource
import sqlite3
import string
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import select
from synthetic import FTS_FACET_SQL, FTS_TOP_SQL, build_catalogue, build_fts

from kb import create_app
from kb.cli import upgrade_database
from kb.db import db, utcnow
from kb.entries.content import current_content
from kb.entries.editing import save_edit
from kb.models import Entry, Organisation, User
from kb.search import get_index, get_synonyms
from kb.search.index import SearchIndex, close_all
from kb.search.query import build, parse
from kb.search.service import (
    Resolver,
    SearchRequest,
    _docs_with,
    load_entries,
    search,
    visible_docs,
)

FACETS = ("sector", "channel", "topic", "kind", "organisation")


@dataclass(frozen=True)
class Case:
    """One query as typed into Span, and its FTS5 translation."""

    kind: str
    text: str
    match: str  # FTS5 MATCH expression (synonyms expanded by hand, words ORed as Span does)
    selected: dict[str, tuple[str, ...]] = field(default_factory=dict)  # facets ticked
    required: dict[str, tuple[str, ...]] = field(default_factory=dict)  # field:value typed
    correction: str | None = None  # FTS5 has no "did you mean"; the baseline is given it free


CASES = (
    Case("one word", "accessibility", "accessibility"),
    Case("one word", "flooding", "flooding"),
    Case("one word", "volunteers", "volunteers"),
    Case("one word", "analytics", "analytics"),
    Case("two words", "winter vaccination", "winter OR vaccination"),
    Case("two words", "staff training", "staff OR training"),
    Case("two words", "council recruitment",
         '(council OR "local authority" OR "local council") OR recruitment'),
    Case("three words", "community safety campaign", "community OR safety OR campaign"),
    Case("three words", "emergency alert messages", "emergency OR alert OR messages"),
    Case("three words", "young people engagement", "young OR people OR engagement"),
    Case("phrase", '"qr codes"', '"qr code" OR "qr codes"'),
    Case("phrase", '"social media policy"', '"social media policy"'),
    Case("phrase", '"missing person"', '"missing person"'),
    Case("filtered", "recruitment", "recruitment", {"channel": ("facebook", "instagram")}),
    Case("filtered", "emergency", "emergency",
         {"sector": ("police", "fire-and-rescue"), "kind": ("case_study",)}),
    Case("filtered", "training", "training", {"topic": ("accessibility",)}),
    Case("field", "evaluation channel:youtube", "evaluation", required={"channel": ("youtube",)}),
    Case("field", "title:accessibility", "title : accessibility"),
    Case("field", "vaccination sector:health", "vaccination", required={"sector": ("health",)}),
    Case("field", "recruitment -facebook", "recruitment NOT facebook"),
    Case("misspelt", "acessibility", "acessibility", correction="accessibility"),
    Case("misspelt", "recruitmant campaign", "recruitmant OR campaign"),
    Case("misspelt", "emergancy alerts", "emergancy OR alerts"),
)  # fmt: skip
KINDS = tuple(dict.fromkeys(case.kind for case in CASES))


def make_app(folder: Path):
    return create_app({
        "SECRET_KEY": "bench", "TESTING": True,
        "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite'}",
        "SEARCH_INDEX_DIR": str(folder / "search"),
    })  # fmt: skip


def prepare(folder: str, n: int, seed: int) -> None:
    """In a child process: catalogue, FTS5 table, index rebuilds; figures to prepare.json."""
    root, figures = Path(folder), {}
    app = make_app(root)
    with app.app_context():
        upgrade_database()
        started = time.perf_counter()
        figures["catalogue"] = build_catalogue(db.session, n, seed)
        figures["catalogue_s"] = time.perf_counter() - started
        print(f"catalogue: {n} entries in {figures['catalogue_s']:.1f} s", flush=True)
    figures["fts_s"] = build_fts(str(root / "bench.sqlite"))
    with app.app_context():
        index = SearchIndex(Path(app.config["SEARCH_INDEX_DIR"]), db.engine)
        for procs in (2, 1):  # the single-process build last: it is the one searched
            try:
                report = index.rebuild(procs=procs)
                figures[f"rebuild_{procs}"] = report.seconds
                print(f"rebuild procs={procs}: {report.documents} docs in {report.seconds:.1f} s",
                      flush=True)  # fmt: skip
            except Exception as error:  # noqa: BLE001 - reported, not fatal
                figures[f"rebuild_{procs}_error"] = repr(error)
        live = index.live_folder()
        figures["index_mb"] = sum(f.stat().st_size for f in live.iterdir()) / 2**20
        figures["segments"] = len(index._open()._segments())
    close_all()
    (root / "prepare.json").write_text(json.dumps(figures))


class Fts5:
    """The baseline page from FTS5 and plain SQL on its own sqlite3 connection."""

    def __init__(self, database: Path):
        self.connection = sqlite3.connect(database, isolation_level=None)
        self.connection.execute("CREATE TEMP TABLE hits (id INTEGER PRIMARY KEY)")
        self.ids = {
            facet: dict(self.connection.execute(f"SELECT slug, id FROM {table}"))
            for facet, table in (("sector", "sectors"), ("channel", "channels"),
                                 ("topic", "topics"), ("organisation", "organisations"))
        }  # fmt: skip

    def condition(self, facet: str, values: tuple[str, ...]) -> str:
        if facet == "kind":
            return "e.kind IN ({})".format(", ".join(f"'{v}'" for v in values))
        ids = ", ".join(str(self.ids[facet][v]) for v in values)
        if facet == "organisation":
            return f"e.organisation_id IN ({ids})"
        if facet == "sector":
            return (f"(e.origin_sector_id IN ({ids}) OR EXISTS (SELECT 1 FROM entry_sectors y "
                    f"WHERE y.entry_id = e.id AND y.sector_id IN ({ids})))")  # fmt: skip
        table = {"channel": "entry_channels", "topic": "entry_topics"}[facet]
        return (f"EXISTS (SELECT 1 FROM {table} y WHERE y.entry_id = e.id "
                f"AND y.{facet}_id IN ({ids}))")  # fmt: skip

    def page(self, app, case: Case, match: str | None = None, per_page: int = 20) -> int:
        """Run one results page; returns the total."""
        run, match = self.connection.execute, match or case.match
        required = "".join(f" AND {self.condition(f, v)}" for f, v in case.required.items())
        run("DELETE FROM hits")
        run("INSERT INTO hits SELECT f.rowid FROM entry_fts f JOIN entries e ON e.id = f.rowid "
            f"WHERE entry_fts MATCH ? AND e.status = 'published'{required}", (match,))  # fmt: skip
        chosen = {f: self.condition(f, v) for f, v in case.selected.items() if v}

        def where(skip: str | None = None) -> str:
            return " AND ".join(c for f, c in chosen.items() if f != skip) or "1"

        total = run(f"SELECT count(*) FROM hits h JOIN entries e ON e.id = h.id WHERE {where()}")
        total = total.fetchone()[0]
        for facet in FACETS:
            run(FTS_FACET_SQL[facet].format(w=where(facet))).fetchall()
        top = run(FTS_TOP_SQL.format(w=where()), (match, per_page)).fetchall()
        with app.app_context():
            load_entries(db.session, [row[0] for row in top])
        if not total and case.correction and match != case.correction:
            self.page(app, replace(case, selected={}), case.correction, per_page=5)
        return total


def span_page(app, index, synonyms, case: Case):
    with app.app_context():
        index.catch_up(timeout=0)
        return search(index, db.session, SearchRequest(case.text, case.selected), synonyms)


def plain_search(app, index, synonyms, case: Case) -> list[str]:
    with app.app_context(), index.reading() as snapshot:
        query = build(synonyms.expand(parse(case.text)), Resolver(db.session))
        allowed = visible_docs(snapshot, False, None)
        for facet, values in case.selected.items():
            allowed = allowed & _docs_with(snapshot, facet, values)
        return [hit["id"] for hit in snapshot.searcher.search(query, filter=allowed, limit=20)]


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[(len(ordered) - 1) // 2], ordered[math.ceil(len(ordered) * 0.95) - 1]


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - started) * 1000


def run_queries(app, index, synonyms, fts: Fts5, runs: int, seed: int) -> dict:
    """Warm up, print each query's totals, then time ``runs`` queries on each engine."""
    print(f"\n{'type':12} {'query':30} {'Span total':>10} {'FTS5 total':>10}")
    for case in CASES:
        found = span_page(app, index, synonyms, case)
        plain_search(app, index, synonyms, case)
        print(f"{case.kind:12} {case.text:30} {found.total:10} {fts.page(app, case):10}")
    order = [CASES[i % len(CASES)] for i in range(runs)]
    random.Random(seed).shuffle(order)
    samples = {name: defaultdict(list) for name in ("span", "fts", "plain")}
    for case in order:
        samples["span"][case.kind].append(timed(span_page, app, index, synonyms, case))
        samples["fts"][case.kind].append(timed(fts.page, app, case))
        samples["plain"][case.kind].append(timed(plain_search, app, index, synonyms, case))
    return samples


def measure_saves(app, index, synonyms, count: int, seed: int) -> dict[str, list[float]]:
    """Edit ``count`` published entries through the real save path; time until searchable."""
    rng = random.Random(seed)
    with app.app_context():
        session = db.session
        ids = session.scalars(select(Entry.id).where(Entry.status == "published")).all()
        org = session.scalar(select(Organisation).limit(1))
        user = User(email="editor@bench.invalid", display_name="Bench editor",
                    organisation=org, role="editor")  # fmt: skip
        session.add(user)
        session.commit()
        user_id = user.id
    figures: dict[str, list[float]] = defaultdict(list)
    for entry_id in rng.sample(ids, count):
        word = "".join(rng.choices(string.ascii_lowercase, k=10))
        with app.app_context():
            session = db.session
            entry = session.get(Entry, entry_id)
            content = current_content(entry)
            edited = replace(content, title=f"{content.title} {word}",
                             body=f"{content.body}\n\nUpdated: {word}.")  # fmt: skip
            started = time.perf_counter()
            author = session.get(User, user_id)
            save_edit(session, entry, author=author, content=edited, now=utcnow(),
                      base=entry.current_revision_number, edit_summary="Bench")  # fmt: skip
            session.commit()
            committed = time.perf_counter()
            index.catch_up()
            caught_up = time.perf_counter()
        while time.perf_counter() - committed < 5:
            found = span_page(app, index, synonyms, Case("save", word, word))
            if any(hit.entry.id == entry_id for hit in found.hits):
                break
        else:
            figures["failed"].append(entry_id)
        visible = time.perf_counter()
        figures["save_edit + commit"].append((committed - started) * 1000)
        figures["catch_up()"].append((caught_up - committed) * 1000)
        figures["first search after"].append((visible - caught_up) * 1000)
        figures["commit -> visible"].append((visible - committed) * 1000)
    return figures


def memory_mb() -> tuple[float, float | None]:
    """(peak, current) resident set size of this process, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = peak / 2**20 if sys.platform == "darwin" else peak / 2**10
    try:
        status = Path("/proc/self/status").read_text()
        current = next(int(line.split()[1]) for line in status.splitlines()
                       if line.startswith("VmRSS:"))  # fmt: skip
    except (OSError, StopIteration):
        return peak, None
    return peak, current / 2**10


def profile(app, index, synonyms, loops: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(loops):
        for case in CASES:
            span_page(app, index, synonyms, case)
    profiler.disable()
    print(f"\ncProfile: {loops} x {len(CASES)} full pages")
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(20)


def print_table(samples: dict) -> dict:
    """Per query type p50/p95 for each engine; returns the overall figures."""
    print(f"\n{'ms':12} {'n':>4} {'Span p50':>9} {'p95':>7} {'FTS5 p50':>9} {'p95':>7} "
          f"{'plain p50':>10} {'p95':>7}")  # fmt: skip
    row = {}
    for kind in (*KINDS, "all"):
        chosen = {
            engine: [v for vs in by_kind.values() for v in vs] if kind == "all" else by_kind[kind]
            for engine, by_kind in samples.items()
        }
        row = {engine: p50_p95(values) for engine, values in chosen.items()}
        count = len(chosen["span"])
        print(f"{kind:12} {count:4} {row['span'][0]:9.1f} {row['span'][1]:7.1f} "
              f"{row['fts'][0]:9.1f} {row['fts'][1]:7.1f} {row['plain'][0]:10.1f} "
              f"{row['plain'][1]:7.1f}")  # fmt: skip
    return row


def print_summary(n: int, figures: dict, overall: dict, saves: dict, memory) -> None:
    at_50k = n >= 30_000
    spec = "50,000" if at_50k else "10,000"
    span, fts = overall["span"], overall["fts"]
    visible = p50_p95(saves["commit -> visible"])
    rows = [
        ("rebuild, procs=1 (s)", figures.get("rebuild_1"), 180 if at_50k else 30),
        ("rebuild, procs=2 (s)", figures.get("rebuild_2"), None),
        ("full page p50 (ms)", span[0], 75 if at_50k else 30),
        ("full page p95 (ms)", span[1], 300 if at_50k else 100),
        ("plain search p95 (ms)", overall["plain"][1], None if at_50k else 50),
        ("Span / FTS5 at p50 (x)", span[0] / fts[0], None if at_50k else 3),
        ("Span / FTS5 at p95 (x)", span[1] / fts[1], None),
        ("save to searchable p50 (ms)", visible[0], None),
        ("save to searchable p95 (ms)", visible[1], None if at_50k else 150),
        ("peak RSS, serving (MB)", memory[0], None if at_50k else 300),
        ("current RSS, serving (MB)", memory[1], None if at_50k else 300),
    ]
    print(f"\nSummary, N={n:,} (targets from the spec at {spec} entries)")
    print(f"{'figure':30} {'value':>9} {'target':>8}  ")
    for label, value, target in rows:
        shown = "failed" if value is None else f"{value:9.1f}"
        verdict = "" if target is None or value is None else ("ok" if value <= target else "MISS")
        print(f"{label:30} {shown:>9} {'' if target is None else f'<= {target}':>8}  {verdict}")
    for key in ("rebuild_1_error", "rebuild_2_error"):
        if key in figures:
            print(f"{key}: {figures[key]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="entries to generate")
    parser.add_argument("--runs", type=int, default=200, help="timed queries per engine")
    parser.add_argument("--saves", type=int, default=50, help="timed saves")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", type=int, default=0, metavar="LOOPS",
                        help="cProfile this many loops of the full-page query mix")  # fmt: skip
    parser.add_argument("--keep", type=Path, metavar="FOLDER",
                        help="build in FOLDER and keep it; reuse it if already built")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="span-search-bench-") as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "prepare.json").is_file():
            child = multiprocessing.get_context("spawn").Process(
                target=prepare, args=(str(folder), args.n, args.seed)
            )
            child.start()
            child.join()
            if child.exitcode != 0:
                sys.exit(f"building the catalogue failed (exit code {child.exitcode})")
        figures = json.loads((folder / "prepare.json").read_text())
        stats = figures["catalogue"]
        print(f"  {stats['organisations']} organisations, {stats['paragraphs']} distinct "
              f"paragraphs, {stats['lexicon']} words in the generator's lexicon")  # fmt: skip
        print(f"FTS5 table built in {figures['fts_s']:.1f} s; Whoosh index "
              f"{figures['index_mb']:.0f} MB in {figures['segments']} segment(s)")  # fmt: skip
        app = make_app(folder)
        with app.app_context():
            index, synonyms = get_index(), get_synonyms()
        fts = Fts5(folder / "bench.sqlite")
        samples = run_queries(app, index, synonyms, fts, args.runs, args.seed)
        overall = print_table(samples)
        memory = memory_mb()
        saves = measure_saves(app, index, synonyms, args.saves, args.seed)
        print(f"\n{'save path (ms)':22} {'p50':>7} {'p95':>7}")
        for label, values in saves.items():
            if label != "failed":
                print(f"{label:22} {p50_p95(values)[0]:7.1f} {p50_p95(values)[1]:7.1f}")
        if saves.get("failed"):
            print(f"not searchable within 5 s: entries {saves['failed']}")
        print_summary(args.n, figures, overall, saves, memory)
        if args.profile:
            profile(app, index, synonyms, args.profile)
        fts.connection.close()
        close_all()


if __name__ == "__main__":
    main()
