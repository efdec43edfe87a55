"""Searching from many threads at once, while entries are saved and the index merges.

Whoosh's readers keep a file position per open file, so a searcher shared by two threads
answers garbage: errors, and worse, pages that are silently wrong. Every search here is checked
against what a single thread gets from a copy of the same index generation.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from kb.db import db
from kb.models import Entry, Organisation, Status
from kb.search.folders import CURRENT
from kb.search.index import SearchIndex
from kb.search.service import SearchRequest, search
from kb.search.sync import write_mark
from tests.factories import make_entry
from tests.search_support import edit, finish, index_of, spawn

THREADS = 8
SEARCHES_PER_THREAD = 200
# Five results a page: every page still highlights titles and bodies, at a quarter of the cost.
PER_PAGE = 5
REQUESTS = [
    SearchRequest("police", per_page=PER_PAGE),
    SearchRequest("flood warnings", per_page=PER_PAGE),
    SearchRequest("staff policy", per_page=PER_PAGE),
    SearchRequest("qr codes", per_page=PER_PAGE),
    SearchRequest("podcast", per_page=PER_PAGE),
    SearchRequest('"social media"', per_page=PER_PAGE),
    SearchRequest("recruitment -facebook", per_page=PER_PAGE),
    SearchRequest("channel:youtube video", per_page=PER_PAGE),
    SearchRequest("polise", per_page=PER_PAGE),  # misspelt: "did you mean"
    SearchRequest("vacinations winter", per_page=PER_PAGE),
    SearchRequest("emergency", {"sector": ("police", "fire-and-rescue")}, per_page=PER_PAGE),
    SearchRequest("training", {"channel": ("facebook",)}, per_page=PER_PAGE),
    SearchRequest("accessibility", sort="newest", per_page=PER_PAGE),
    SearchRequest("community", sort="most-borrowed", per_page=PER_PAGE),
    SearchRequest("ahp", page=2, per_page=PER_PAGE),
    SearchRequest("council", include_archived=True, per_page=PER_PAGE),
    SearchRequest("zzqqxx", per_page=PER_PAGE),  # nothing: nearest matches
    SearchRequest("gritter podcast", per_page=PER_PAGE),  # partial matches only
    SearchRequest("winter phone calls", per_page=PER_PAGE),  # results, then partial matches
]


def fingerprint(results) -> tuple:
    """Everything on a results page that comes from the index."""
    return (
        results.total,
        results.total_without_filters,
        results.suggestion,
        tuple((hit.entry.id, hit.title, hit.snippets, hit.reused) for hit in results.hits),
        tuple(
            (f, tuple((v.value, v.count, v.selected) for v in values))
            for f, _label, values in results.facets
        ),  # fmt: skip
        tuple(hit.entry.id for hit in results.nearest),
        tuple((hit.entry.id, hit.title, hit.snippets) for hit in results.partial),
    )


def _copy_generation(index: SearchIndex, copies: Path, recorded: dict, drafting: int) -> None:
    """Copy each index of the live folder at its current generation (only this thread
    writes): the public index, and the drafts index of the organisation the test reads."""
    with index.reading(drafting) as snapshot:
        _folder, public, _organisation, drafts = snapshot.generation
    live = index.live_folder()
    indexes = [("public", public, live / "public"),
               ("drafts", drafts, live / "drafts" / str(drafting))]  # fmt: skip
    for kind, generation, source in indexes:
        if (kind, generation) not in recorded:
            recorded[kind, generation] = copies / f"{kind}-{generation}"
            shutil.copytree(source, recorded[kind, generation])


def _assembled(recorded: dict, generation: tuple, drafting: int, tmp_path: Path) -> Path:
    """A replica root whose live folder holds the recorded copies of ``generation``'s
    indexes: (public generation, organisation or None, drafts generation or None)."""
    public, organisation, drafts = generation
    root = tmp_path / f"assembled-{public}-{drafts}"
    if not root.exists():
        folder = root / "index-assembled"
        (folder / "drafts").mkdir(parents=True)
        os.symlink(recorded["public", public], folder / "public")
        if organisation is not None:
            os.symlink(recorded["drafts", drafts], folder / "drafts" / str(drafting))
        write_mark(folder, 0)
        os.symlink(folder.name, root / CURRENT)
    return root


def test_eight_threads_searching_while_saves_and_merges_run(catalogue_app, tmp_path):
    index = index_of(catalogue_app)
    synonyms = catalogue_app.extensions["kb.search.synonyms"]
    with catalogue_app.app_context():
        published = db.session.scalars(
            select(Entry.slug).where(Entry.status == Status.PUBLISHED.value).order_by(Entry.id)
        ).all()
        police = db.session.scalar(
            select(Organisation).where(Organisation.slug == "eastmarch-police")
        )
        for number in range(3):
            make_entry(db.session, police, status=Status.DRAFT.value,
                       title=f"Draft plan {number} for police community meetings")  # fmt: skip
        db.session.commit()
        drafting = police.id
    index.catch_up()
    requests = [
        *REQUESTS,  # and a member's view: the public index with their organisation's drafts
        SearchRequest("police", drafts_of=drafting, per_page=PER_PAGE),
        SearchRequest("draft plan", drafts_of=drafting, per_page=PER_PAGE),
    ]
    copies, recorded = tmp_path / "copies", {}
    _copy_generation(index, copies, recorded, drafting)
    seen: list[tuple[tuple, int, tuple]] = []  # (generation, request number, page)
    errors: list[BaseException] = []
    done = threading.Event()

    def searching(number: int) -> None:
        rng = random.Random(number)
        try:
            for _ in range(SEARCHES_PER_THREAD):
                number = rng.randrange(len(requests))
                with catalogue_app.app_context():
                    results = search(index, db.session, requests[number], synonyms)
                    seen.append((results.generation[1:], number, fingerprint(results)))
        except BaseException:  # noqa: BLE001 - reported below
            errors.append(traceback.format_exc())

    # Merges run here, as the background would after each save, so that every generation
    # the readers may see is copied before the next one replaces it.
    index.merge_in_background = False

    def saving() -> None:
        rng = random.Random(99)
        saves = 0
        try:
            while not done.is_set():
                slug = rng.choice(published)
                with catalogue_app.app_context():
                    session = db.session
                    entry = session.scalar(select(Entry).where(Entry.slug == slug))
                    edit(session, entry, summary=f"{entry.summary.split(' Rev')[0]} Rev{saves}")
                    session.commit()
                index.catch_up(timeout=5)
                _copy_generation(index, copies, recorded, drafting)
                index.merge(index.live_folder())
                _copy_generation(index, copies, recorded, drafting)
                saves += 1
                if saves % 5 == 0:
                    index.optimize()  # a full merge while the readers read
                    _copy_generation(index, copies, recorded, drafting)
        except BaseException:  # noqa: BLE001 - reported below
            errors.append(traceback.format_exc())

    started = time.perf_counter()
    readers = [threading.Thread(target=searching, args=(n,)) for n in range(THREADS)]
    writer = threading.Thread(target=saving)
    writer.start()
    for thread in readers:
        thread.start()
    for thread in readers:
        thread.join(timeout=300)
    done.set()
    writer.join(timeout=60)
    print(f"stress {time.perf_counter() - started:.1f}s, {len(recorded)} generations")
    assert not errors, "\n".join(errors[:2])
    assert len(seen) == THREADS * SEARCHES_PER_THREAD
    generations = Counter(generation[0] for generation, _r, _f in seen)
    print(f"{len(seen)} searches over {len(generations)} public generations")
    assert len(generations) > 3, "the index should have changed under the readers"

    # A single thread, reading a copy of each generation, must see exactly the same pages.
    with catalogue_app.app_context():
        engine = db.engine
    expected: dict[tuple[tuple, int], tuple] = {}
    for generation, number, got in seen:
        key = (generation, number)
        if key not in expected:
            copy = SearchIndex(_assembled(recorded, generation, drafting, tmp_path), engine)
            with catalogue_app.app_context():
                expected[key] = fingerprint(search(copy, db.session, requests[number], synonyms))
            assert (
                copy.readers.generation(copy.live_folder(), requests[number].drafts_of)[1:]
                == generation
            )
            copy.close()
        assert got == expected[key], f"{requests[number]} at generation {generation}"


# -- several processes -----------------------------------------------------------------------


def test_two_processes_searching_while_this_one_saves_merges_and_rebuilds(catalogue_app, tmp_path):
    """The saves only add a word no query looks for, so every search must keep finding exactly
    the same entries, whatever merge or rebuild is under way in another process."""
    queries = ["podcast", "qr codes", "flood warnings", '"social media"']
    client = catalogue_app.test_client()
    expected = {}
    for query in queries:
        with catalogue_app.app_context():
            found = search(index_of(catalogue_app), db.session, SearchRequest(query, per_page=100),
                           catalogue_app.extensions["kb.search.synonyms"])  # fmt: skip
        expected[query] = [[found.total, sorted(hit.entry.id for hit in found.hits)]]
    args = (tmp_path / "instance", catalogue_app.config["DATABASE_URL"], 12, *queries)
    searchers = [spawn("search-loop", *args) for _ in range(2)]
    with catalogue_app.app_context():
        slugs = db.session.scalars(select(Entry.slug).where(Entry.status == "published")).all()
    try:
        deadline = time.monotonic() + 10
        saves = 0
        while time.monotonic() < deadline:
            with catalogue_app.app_context():
                session = db.session
                entry = session.scalar(select(Entry).where(Entry.slug == slugs[saves % len(slugs)]))
                edit(session, entry, summary=f"{entry.summary} zqsave{saves}")
                session.commit()
            index_of(catalogue_app).catch_up(timeout=5)
            saves += 1
            if saves % 4 == 0:
                assert catalogue_app.test_cli_runner().invoke(args=["optimize"]).exit_code == 0
            if saves % 9 == 0:
                assert catalogue_app.test_cli_runner().invoke(args=["reindex"]).exit_code == 0
    finally:
        outputs = [finish(searcher, timeout=60) for searcher in searchers]
    assert client.get("/search?q=zqsave0").status_code == 200
    for searcher, (out, err) in zip(searchers, outputs, strict=True):
        assert searcher.returncode == 0, err[-3000:]
        report = json.loads(out)
        assert report["errors"] == [], report["errors"]
        assert report["searches"] > 20 and report["unavailable"] == 0, report
        assert report["pages"] == expected, "a search found other entries than it should"


# -- over HTTP, against the development server that `make run` starts ------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _log(tmp_path: Path) -> str:
    return (tmp_path / "server.log").read_text()[-3000:]


def _serve(catalogue_app, tmp_path: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    environment = {
        **os.environ,
        "KB_DATABASE_URL": catalogue_app.config["DATABASE_URL"],
        "KB_SEARCH_INDEX_DIR": catalogue_app.config["SEARCH_INDEX_DIR"],
        "KB_SECRET_KEY": "concurrency-test",
        "KB_SECURE_COOKIES": "0",
        "KB_INSTANCE_PATH": str(tmp_path / "instance"),
        "KB_PAGE_CACHE": "0",  # every request searches, rather than reading a stored page
        "PYTHONFAULTHANDLER": "1",  # a crash leaves its tracebacks in the log
    }
    # The request log goes to a file: a pipe nobody reads until the end fills up and stalls
    # the server once requests are quick.
    with (tmp_path / "server.log").open("w") as log:  # the server keeps its own copy
        server = subprocess.Popen(
            # The `kb` command `make run` serves with: Flask's threaded development server.
            [Path(sys.executable).parent / "kb", "run", "--host", "127.0.0.1", "--port", str(port)],
            env=environment, stdout=subprocess.DEVNULL, stderr=log, text=True,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, port
        except OSError:
            if server.poll() is not None:
                raise AssertionError(f"the server stopped: {_log(tmp_path)}") from None
            time.sleep(0.1)
    server.kill()
    server.communicate()
    raise AssertionError("the development server did not start")


def test_four_keep_alive_clients_against_the_development_server(catalogue_app, tmp_path):
    server, port = _serve(catalogue_app, tmp_path)
    statuses: Counter = Counter()
    errors: list[BaseException] = []
    queries = ["flood+warnings", "staff+policy", "qr+codes", "podcast"]

    def client(query: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline:
                connection.request("GET", f"/search?q={query}")
                response = connection.getresponse()
                body = response.read()
                statuses[response.status] += 1
                if response.status == 200:
                    assert b"result" in body
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=client, args=(q,)) for q in queries]
        for thread in threads:
            thread.start()
        time.sleep(4)  # then merge the index from another process while they search
        merge = catalogue_app.test_cli_runner().invoke(args=["optimize"])
        assert merge.exit_code == 0, merge.output
        for thread in threads:
            thread.join(timeout=60)
    finally:
        server.terminate()
        server.communicate(timeout=30)
        stderr = _log(tmp_path)
    assert not errors, (errors[:3], statuses, stderr)
    assert statuses[500] == 0, stderr
    assert set(statuses) == {200} and sum(statuses.values()) > 40, statuses
