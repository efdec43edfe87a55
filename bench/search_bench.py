"""Search cost on a synthetic catalogue, against an SQLite FTS5 baseline in the same run.

    .venv/bin/python bench/search_bench.py               # 10,000 entries, 200 timed queries
    .venv/bin/python bench/search_bench.py --n 50000     # several minutes: mostly the rebuilds
    .venv/bin/python bench/search_bench.py --profile 3   # and cProfile 3 loops of the mix

The catalogue (``synthetic.py``), the FTS5 table and the index rebuilds (``--procs 2,1``) are
made in a child process, so the resident memory printed is that of a process serving
searches. Then the query mix (one to three words, phrases, ticked facets, field syntax,
misspellings), each query run on every engine in turn:

- full page: what ``/search`` does short of rendering: ``catch_up(timeout=0)`` and
  ``kb.search.service.search`` in a fresh app context (the entries holding every word: exact
  total, five facet counts, 20 highlighted hits, their rows loaded through the ORM; partial
  matches filling the page when there are fewer);
- plain search: the Whoosh query for the top 20 visible documents, nothing else;
- FTS5 page: the same page with the same rules: every word's matches into a temporary table,
  count(*), five GROUP BY facet counts, top 20 by bm25() with highlight() and snippet(), rows
  loaded as Span loads them; when fewer than 20, the entries holding some of the words but
  not all, ranked, to fill the page. FTS5 has no "did you mean", so it is handed the
  correction.

Then save to searchable (``--saves``, 200 by default): ``save_edit`` and commit,
``catch_up()`` (what the request does after saving), and searches for a new title word until
the entry is found; then the full page again on the index as the saves left it (a segment
per save, merged in the background above three).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import multiprocessing
import os
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
from functools import partial
from pathlib import Path

from sqlalchemy import select

# This tree's Span, not whichever one is installed (a second checkout's, say).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from synthetic import FTS_FACET_SQL, FTS_TOP_SQL, build_catalogue, build_fts  # noqa: E402

from kb import create_app  # noqa: E402
from kb.cli import upgrade_database  # noqa: E402
from kb.db import db, utcnow  # noqa: E402
from kb.entries.content import current_content  # noqa: E402
from kb.entries.editing import save_edit  # noqa: E402
from kb.models import Entry, User  # noqa: E402
from kb.search import get_index, get_synonyms, service  # noqa: E402
from kb.search import rows as search_rows  # noqa: E402
from kb.search.index import SearchIndex, close_all  # noqa: E402
from kb.search.query import build, parse  # noqa: E402
from kb.search.schema import FACETS  # noqa: E402


@dataclass(frozen=True)
class Case:
    """One query as typed into Span, and its FTS5 translation."""

    kind: str
    text: str
    match: str  # FTS5 MATCH expression for the results (every word; synonyms expanded by hand)
    near: str | None = None  # FTS5 MATCH expression for partial matches (any word)
    selected: dict[str, tuple[str, ...]] = field(default_factory=dict)  # facets ticked
    required: dict[str, tuple[str, ...]] = field(default_factory=dict)  # field:value typed
    correction: str | None = None  # FTS5 has no "did you mean"; the baseline is given it free


CASES = (
    Case("one word", "accessibility", "accessibility"),
    Case("one word", "flooding", "flooding"),
    Case("one word", "volunteers", "volunteers"),
    Case("one word", "analytics", "analytics"),
    Case("two words", "winter vaccination", "winter AND vaccination", "winter OR vaccination"),
    Case("two words", "staff training", "staff AND training", "staff OR training"),
    Case("two words", "council recruitment",
         '(council OR "local authority" OR "local council") AND recruitment',
         '(council OR "local authority" OR "local council") OR recruitment'),
    Case("three words", "community safety campaign", "community AND safety AND campaign",
         "community OR safety OR campaign"),
    Case("three words", "emergency alert messages", "emergency AND alert AND messages",
         "emergency OR alert OR messages"),
    Case("three words", "young people engagement", "young AND people AND engagement",
         "young OR people OR engagement"),
    Case("phrase", '"qr codes"', '"qr code" OR "qr codes"'),
    Case("phrase", '"social media policy"', '"social media policy"'),
    Case("phrase", '"missing person"', '"missing person"'),
    Case("filtered", "recruitment", "recruitment", selected={"channel": ("facebook", "instagram")}),
    Case("filtered", "emergency", "emergency",
         selected={"sector": ("police", "fire-and-rescue"), "kind": ("case_study",)}),
    Case("filtered", "training", "training", selected={"topic": ("accessibility",)}),
    Case("field", "evaluation channel:youtube", "evaluation", required={"channel": ("youtube",)}),
    Case("field", "title:accessibility", "title : accessibility"),
    Case("field", "vaccination sector:health", "vaccination", required={"sector": ("health",)}),
    Case("field", "recruitment -facebook", "recruitment NOT facebook"),
    Case("misspelt", "acessibility", "acessibility", correction="accessibility"),
    Case("misspelt", "recruitmant campaign", "recruitmant AND campaign",
         "recruitmant OR campaign"),
    Case("misspelt", "emergancy alerts", "emergancy AND alerts", "emergancy OR alerts"),
)  # fmt: skip
KINDS = tuple(dict.fromkeys(case.kind for case in CASES))


def make_app(folder: Path):
    return create_app({
        "SECRET_KEY": "bench", "TESTING": True,
        "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite'}",
        "SEARCH_INDEX_DIR": str(folder / "search"),
    })  # fmt: skip


def prepare(folder: str, n: int, seed: int, procs: list[int]) -> None:
    """In a child process: catalogue, FTS5 table, index rebuilds; figures to prepare.json."""
    root, figures = Path(folder), {}
    app = make_app(root)
    with app.app_context():
        upgrade_database()
        started = time.perf_counter()
        figures["catalogue"] = build_catalogue(db.session, n, seed)
        print(f"catalogue: {n} entries in {time.perf_counter() - started:.1f} s", flush=True)
    figures["fts_s"] = build_fts(str(root / "bench.sqlite"))
    for count in procs:  # the last build is the one searched
        # Each in a process of its own, so its peak memory is the rebuild's alone.
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        child = context.Process(target=rebuild, args=(folder, count, results))
        child.start()
        report = results.get()
        child.join()
        if isinstance(report, str):  # reported, not fatal
            figures[f"rebuild_{count}_error"] = report
            continue
        figures[f"rebuild_{count}"], figures[f"rebuild_{count}_mb"] = report[1], report[3]
        print("rebuild procs={}: {} docs in {:.1f} s, {} segment(s), peak memory {:.0f} MB per "
              "process".format(count, *report), flush=True)  # fmt: skip
    with app.app_context():
        index = SearchIndex(Path(app.config["SEARCH_INDEX_DIR"]), db.engine)
        live = index.live_folder()
        figures["index_mb"] = sum(f.stat().st_size for f in live.rglob("*") if f.is_file()) / 2**20
        with index.reading() as snapshot:
            figures["segments"] = len(snapshot.searcher.reader().leaf_readers())
    close_all()
    (root / "prepare.json").write_text(json.dumps(figures))


def rebuild(folder: str, procs: int, results) -> None:
    """In a child process: rebuild the index; (entries, seconds, segments, peak MB) or an error."""
    app = make_app(Path(folder))
    try:
        with app.app_context():
            report = SearchIndex(Path(app.config["SEARCH_INDEX_DIR"]), db.engine).rebuild(
                procs=procs
            )
        results.put((report.documents, report.seconds, report.segments, report.peak_mb))
    except Exception as error:
        results.put(repr(error))
    finally:
        close_all()


class Fts5:
    """The baseline page from FTS5 and plain SQL on its own sqlite3 connection."""

    def __init__(self, database: Path):
        self.connection = sqlite3.connect(database, isolation_level=None)
        self.connection.execute("CREATE TEMP TABLE hits (id INTEGER PRIMARY KEY)")
        self.connection.execute("CREATE TEMP TABLE near (id INTEGER PRIMARY KEY)")
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
        run("DELETE FROM hits")  # CROSS JOIN: FTS5 outermost, not probed once per entry
        run("INSERT INTO hits SELECT f.rowid FROM entry_fts f CROSS JOIN entries e ON "
            f"e.id = f.rowid WHERE entry_fts MATCH ? AND e.status = 'published'{required}",
            (match,))  # fmt: skip
        chosen = {f: self.condition(f, v) for f, v in case.selected.items() if v}

        def where(skip: str | None = None) -> str:
            return " AND ".join(c for f, c in chosen.items() if f != skip) or "1"

        total = run(f"SELECT count(*) FROM hits h JOIN entries e ON e.id = h.id WHERE {where()}")
        total = total.fetchone()[0]
        for facet in FACETS:
            run(FTS_FACET_SQL[facet].format(w=where(facet))).fetchall()
        top = run(FTS_TOP_SQL.format(w=where()), (match, per_page)).fetchall()
        if case.near and total < per_page and match == case.match:
            # Partial matches: any word, not every word, ranked, to fill the page; no count.
            run("DELETE FROM near")
            run("INSERT INTO near SELECT f.rowid FROM entry_fts f CROSS JOIN entries e ON "
                f"e.id = f.rowid WHERE entry_fts MATCH ? AND e.status = 'published'{required} "
                "AND f.rowid NOT IN (SELECT id FROM hits)", (case.near,))  # fmt: skip
            near_top = FTS_TOP_SQL.replace("JOIN hits h", "JOIN near h").format(w=where())
            top += run(near_top, (case.near, per_page - len(top))).fetchall()
        with app.app_context():
            search_rows.load_entries(db.session, [row[0] for row in top])
        if not total and case.correction and match != case.correction:
            self.page(app, replace(case, selected={}), case.correction, per_page=5)
        return total


def span_page(app, index, synonyms, case: Case):
    """What ``/search`` does short of rendering the template."""
    with app.app_context():
        index.catch_up(timeout=0)
        request = service.SearchRequest(case.text, case.selected)
        return service.search(index, db.session, request, synonyms)


def plain_search(app, index, synonyms, case: Case) -> list[str]:
    """The Whoosh query alone: top 20 visible documents, no facets, highlights or rows."""
    with app.app_context(), index.reading() as snapshot:
        query = build(synonyms.expand(parse(case.text)), service.Resolver(db.session))
        allowed = service.visible_docs(snapshot, False)
        for facet, values in case.selected.items():
            allowed = allowed & service.docs_with(snapshot, facet, values)
        return [hit["id"] for hit in snapshot.searcher.search(query, filter=allowed, limit=20)]


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[(len(ordered) - 1) // 2], ordered[math.ceil(len(ordered) * 0.95) - 1]


def time_mix(engines: dict, runs: int, seed: int) -> dict[str, dict[str, list[float]]]:
    """ms by engine and query type; each query runs on every engine in turn."""
    order = [CASES[i % len(CASES)] for i in range(runs)]
    random.Random(seed).shuffle(order)
    samples = {name: defaultdict(list) for name in engines}
    for case in order:
        for name, run in engines.items():
            started = time.perf_counter()
            run(case)
            samples[name][case.kind].append((time.perf_counter() - started) * 1000)
    return samples


def print_mix(samples: dict) -> dict[str, tuple[float, float]]:
    """p50/p95 per query type for each engine; returns the overall figures."""
    print(f"\n{'ms':12} {'n':>4}" + "".join(f" {e + ' p50':>10} {'p95':>7}" for e in samples))
    overall = {}
    for kind in (*KINDS, "all"):
        row = {}
        for engine, by_kind in samples.items():
            values = [v for vs in by_kind.values() for v in vs] if kind == "all" else by_kind[kind]
            row[engine] = p50_p95(values)
        cells = "".join(f" {a:10.1f} {b:7.1f}" for a, b in row.values())
        print(f"{kind:12} {len(values):4}{cells}")
        overall = row
    return overall


def measure_saves(app, index, synonyms, count: int, seed: int) -> dict[str, list]:
    """Edit ``count`` published entries through the real save path; time until searchable."""
    rng = random.Random(seed)
    with app.app_context():
        session = db.session
        ids = session.scalars(select(Entry.id).where(Entry.status == "published")).all()
        email = "editor@bench.invalid"  # made once; a kept folder is used again
        if not session.scalar(select(User.id).where(User.email == email)):
            session.add(User(email=email, display_name="Bench editor"))
            session.commit()
        user_id = session.scalar(select(User.id).where(User.email == email))
    figures: dict[str, list] = defaultdict(list)
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
            index.catch_up()  # what the request does after it commits
            caught_up = time.perf_counter()
        while time.perf_counter() - committed < 5:
            try:
                found = span_page(app, index, synonyms, Case("save", word, word))
            except Exception as error:  # a failure in kb/search: reported, then retried
                figures["errors"].append(f"{type(error).__name__}: {error}")
                continue
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
    scale = 2**20 if sys.platform == "darwin" else 2**10  # ru_maxrss: bytes on macOS, else KB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    try:
        status = Path("/proc/self/status").read_text().splitlines()
        return peak, next(int(line.split()[1]) for line in status if "VmRSS" in line) / 2**10
    except (OSError, StopIteration):
        return peak, None


def profile(run, loops: int) -> None:
    profiler = cProfile.Profile()
    for case in CASES * loops:
        profiler.runcall(run, case)
    print(f"\ncProfile: {loops} x {len(CASES)} full pages")
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(20)


def print_summary(n: int, figures: dict, mix: dict, after: dict, saves: dict, memory) -> None:
    big = n >= 30_000  # the spec's targets at 50,000 entries, else those at 10,000
    visible = p50_p95(saves["commit -> visible"])
    rows = [
        ("rebuild, procs=1 (s)", figures.get("rebuild_1"), 180 if big else 30),
        ("rebuild, procs=2 (s)", figures.get("rebuild_2"), 180 if big else 30),
        (
            "rebuild peak memory per process (MB)",
            max(figures.get(f"rebuild_{p}_mb", 0) for p in (1, 2)) or None,
            300,
        ),
        ("full page p50 (ms)", mix["Span"][0], 75 if big else 30),
        ("full page p95 (ms)", mix["Span"][1], 300 if big else 100),
        ("plain search p95 (ms)", mix["plain"][1], None),
        ("Span / FTS5 at p50 (x)", mix["Span"][0] / mix["FTS5"][0], None if big else 2),
        ("Span / FTS5 at p95 (x)", mix["Span"][1] / mix["FTS5"][1], None if big else 3),
        ("full page p50 after saves (ms)", after["Span"][0], 75 if big else 30),
        ("full page p95 after saves (ms)", after["Span"][1], 300 if big else 100),
        ("after saves / FTS5 at p50 (x)", after["Span"][0] / after["FTS5"][0], None if big else 2),
        ("after saves / FTS5 at p95 (x)", after["Span"][1] / after["FTS5"][1], None if big else 3),
        ("save to searchable p50 (ms)", visible[0], None),
        ("save to searchable p95 (ms)", visible[1], None if big else 150),
        ("peak RSS, serving (MB)", memory[0], None if big else 300),
        ("current RSS, serving (MB)", memory[1], None if big else 300),
    ]
    print(f"\nSummary, N={n:,} (targets: the spec's at {'50,000' if big else '10,000'} entries)")
    for label, value, target in rows:
        shown = "-" if value is None else f"{value:9.2f}" if value < 10 else f"{value:9.1f}"
        verdict = "" if target is None or value is None else ("ok" if value <= target else "MISS")
        print(f"{label:32} {shown:>9} {'' if target is None else f'<= {target}':>8}  {verdict}")
    for key in (k for k in figures if k.endswith("_error")):
        print(f"{key}: {figures[key]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="entries to generate")
    parser.add_argument("--runs", type=int, default=200, help="timed queries per engine")
    parser.add_argument("--saves", type=int, default=200, help="timed saves")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--procs", default=[2, 1], type=lambda v: [int(p) for p in v.split(",")],
                        help="rebuilds to time, e.g. 2,1; the last is searched")  # fmt: skip
    parser.add_argument("--profile", type=int, default=0, metavar="LOOPS",
                        help="cProfile this many loops of the full-page query mix")  # fmt: skip
    parser.add_argument("--keep", type=Path, metavar="FOLDER",
                        help="build in FOLDER and keep it; reuse it, edits and all")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="span-search-bench-") as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "prepare.json").is_file():
            child = multiprocessing.get_context("spawn").Process(
                target=prepare, args=(str(folder), args.n, args.seed, args.procs)
            )
            child.start()
            child.join()
            if child.exitcode != 0:
                sys.exit(f"building the catalogue failed (exit code {child.exitcode})")
        figures = json.loads((folder / "prepare.json").read_text())
        print("  {organisations} organisations, {paragraphs} distinct paragraphs, {lexicon} "
              "words in the generator's lexicon".format(**figures["catalogue"]))  # fmt: skip
        print(f"FTS5 table built in {figures['fts_s']:.1f} s; Whoosh index "
              f"{figures['index_mb']:.0f} MB in {figures['segments']} segment(s)")  # fmt: skip
        print("load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        app = make_app(folder)
        with app.app_context():
            upgrade_database()  # a kept folder made by an older Span
            index, synonyms = get_index(), get_synonyms()
            index.ensure()  # a kept folder copied without its index is built here
        fts = Fts5(folder / "bench.sqlite")
        engines = {"Span": partial(span_page, app, index, synonyms),
                   "FTS5": partial(fts.page, app),
                   "plain": partial(plain_search, app, index, synonyms)}  # fmt: skip
        print(f"\n{'type':12} {'query':30} {'Span total':>10} {'FTS5 total':>10}")
        for case in CASES:  # also the warm-up
            span = engines["Span"](case)
            engines["plain"](case)
            print(f"{case.kind:12} {case.text:30} {span.total:10} {fts.page(app, case):10}")
        mix = print_mix(time_mix(engines, args.runs, args.seed))
        if args.profile:
            profile(engines["Span"], args.profile)
        saves = measure_saves(app, index, synonyms, args.saves, args.seed)
        print(f"\n{'save path (ms)':22} {'p50':>7} {'p95':>7}")
        for label, values in saves.items():
            if label not in ("failed", "errors"):
                print(f"{label:22} {p50_p95(values)[0]:7.1f} {p50_p95(values)[1]:7.1f}")
        if saves.get("failed"):
            print(f"not searchable within 5 s: entries {saves['failed']}")
        if saves.get("errors"):
            print(f"SEARCH ERRORS while saving: {len(saves['errors'])}; {saves['errors'][0]}")
        with index.reading() as snapshot:
            segments = len(snapshot.searcher.reader().leaf_readers())
        print(f"\nFull page after the saves ({segments} segments):")
        runs = max(args.runs // 2, len(CASES))
        after = {"Span": engines["Span"], "FTS5": engines["FTS5"]}
        after = print_mix(time_mix(after, runs, args.seed + 1))
        memory = memory_mb()  # the peak after every search and save
        print_summary(args.n, figures, mix, after, saves, memory)
        print("load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        close_all()


if __name__ == "__main__":
    main()
