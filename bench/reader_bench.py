"""How searches share the index between threads: the three ways measured in one run.

    .venv/bin/python bench/reader_bench.py                  # the sample catalogue
    .venv/bin/python bench/reader_bench.py --keep FOLDER    # a catalogue search_bench.py kept

Whoosh's readers keep one file position per open file, so one searcher must never be read by
two threads at once. The ways to honour that:

- pool (what Span does): each search takes a searcher nobody else is using, from a small pool
  of the index's current generation, opening one when the pool is empty;
- fresh: open a new searcher for every search and close it after;
- locked: one shared searcher, one search at a time.

Prints the cost of opening a searcher, then searches per second for 1 and THREADS threads
with each way, and each way's ratio to the pool in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

from kb import create_app
from kb.cli import upgrade_database
from kb.config import ROOT
from kb.db import db
from kb.search import get_index
from kb.search.readers import Snapshot
from kb.search.service import SearchRequest, _search
from kb.seeding import load_catalogue

QUERIES = ["police", "flood warnings", '"social media"', "qr codes", "polise", "training"]


def make_app(folder: Path, database: Path):
    return create_app({
        "SECRET_KEY": "bench", "TESTING": True, "DATABASE_URL": f"sqlite:///{database}",
        "SEARCH_INDEX_DIR": str(folder / "search"),
    })  # fmt: skip


def p50(samples: list[float]) -> float:
    return sorted(samples)[len(samples) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="a folder kept by search_bench.py --keep")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--searches", type=int, default=60, help="per thread and way")
    args = parser.parse_args()
    temporary = Path(tempfile.mkdtemp(prefix="span-reader-bench-"))
    try:
        if args.keep:
            app = make_app(args.keep, args.keep / "bench.sqlite")
        else:
            app = make_app(temporary, temporary / "kb.sqlite")
            with app.app_context():
                upgrade_database()
                load_catalogue(db.session, ROOT / "seed_data")
                db.session.commit()
        with app.app_context():
            index = get_index()
            index.ensure()
        run(app, index, args.threads, args.searches)
        index.close()
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def run(app, index, threads: int, searches: int) -> None:
    synonyms = app.extensions["kb.search.synonyms"]
    readers, folder = index.readers, index.live_folder()
    opening = []
    for _ in range(30):
        started = time.perf_counter()
        searcher, _generation = readers._open(folder, None)
        opening.append((time.perf_counter() - started) * 1000)
        searcher.close()
    print(f"opening a searcher (every file it reads): p50 {p50(opening):.2f} ms")

    shared, generation = readers._open(folder, None)
    lock = threading.Lock()
    cache: dict = {}  # every way shares what a generation's searchers work out, as Span does

    def search(way: str, text: str) -> None:
        request = SearchRequest(text)
        with app.app_context():
            if way == "pool":
                index.read(lambda snapshot: _search(snapshot, db.session, request, synonyms))
            elif way == "fresh":
                searcher, fresh_generation = readers._open(folder, None)
                try:
                    snapshot = Snapshot(searcher, folder, fresh_generation, readers.segments, cache)
                    _search(snapshot, db.session, request, synonyms)
                finally:
                    searcher.close()
            else:
                with lock:
                    snapshot = Snapshot(shared, folder, generation, readers.segments, cache)
                    _search(snapshot, db.session, request, synonyms)

    for text in QUERIES:  # warm every way's caches
        for way in ("pool", "fresh", "locked"):
            search(way, text)
    rates: dict[tuple[str, int], float] = {}
    for count in (1, threads):
        for way in ("pool", "fresh", "locked"):

            def work(number: int, way: str = way) -> None:
                for i in range(searches):
                    search(way, QUERIES[(number + i) % len(QUERIES)])

            workers = [threading.Thread(target=work, args=(n,)) for n in range(count)]
            started = time.perf_counter()
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            rates[way, count] = count * searches / (time.perf_counter() - started)
    shared.close()
    print(f"\n{'searches/s':10} {'1 thread':>10} {f'{threads} threads':>11} {'vs pool':>8}")
    for way in ("pool", "fresh", "locked"):
        ratio = rates[way, threads] / rates["pool", threads]
        print(f"{way:10} {rates[way, 1]:10.1f} {rates[way, threads]:11.1f} {ratio:7.2f}x")


if __name__ == "__main__":
    main()
