"""Every entry's reuse count reads right while searches, saves and background merges run.

A searcher is opened by reading the index's table of contents and then each segment's files.
A merge that deleted a segment's files between the two used to leave the searcher with the
segment's stored fields opened but not its columns: Whoosh takes a missing column file for
one the segment never had, so every reuse count in it read as -2**31 (the column's default,
decoded), "most borrowed" put its entries last and its field lengths read as zero, for as
long as the searcher stayed in the pool. Each reading here is checked against the database.

Also here: such a count, should it ever be read again, refuses the search as damage instead
of lifting nothing; and the other ways a merge deleting files under a searcher that is
opening could leak a file or pass for damage.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import pytest
from sqlalchemy import select, update
from whoosh import index as whoosh_index

from kb.db import db, utcnow
from kb.models import Entry, SearchChange, Status
from kb.models.entry import PUBLIC_STATUSES
from kb.search import integrity, sync
from kb.search import merges as merges_module
from kb.search import readers as readers_module
from kb.search.documents import reuse_counts
from kb.search.folders import APPLY_LOCK, file_lock
from kb.search.index import SearchIndex, SearchUnavailable
from kb.search.postings import segment_id, subsearchers
from kb.search.ranking import lift
from kb.search.readers import Readers
from kb.search.segments import MERGE_ABOVE_SEGMENTS, smallest
from kb.search.service import SearchRequest, search
from tests.search_support import (
    ROOT,
    assert_opening_fails_and_leaves_no_file_open,
    finish,
    index_of,
)

THREADS = 4
OPENING = 3  # threads that open a searcher for every reading; the others search as requests do
SECONDS = 15
REQUESTS = [
    SearchRequest("", sort="most-borrowed", per_page=20),
    SearchRequest("community", sort="most-borrowed", per_page=10),
    SearchRequest("police", per_page=10),
]


def database_counts(engine) -> tuple[dict[str, int], list[int]]:
    """Each public entry's reuse count, by its id as the index stores it; and the counts of
    the published ones (what "most borrowed" lists with no words), highest first."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(Entry.id, Entry.status).where(Entry.status.in_(PUBLIC_STATUSES))
        ).all()
        reused = reuse_counts(connection, [row.id for row in rows])
    counts = {str(row.id): reused.get(row.id, (0, False))[0] for row in rows}
    published = [counts[str(r.id)] for r in rows if r.status == Status.PUBLISHED.value]
    return counts, sorted(published, reverse=True)


def misreadings(snapshot, counts: dict[str, int]) -> list[str]:
    """Where the snapshot's searcher reads a live document's reuse count otherwise than the
    database: its column (segment by segment and across the index), its stored fields, or
    its lift (likewise); and whether it holds each public entry exactly once."""
    searcher = snapshot.searcher
    across = searcher.reader().column_reader("borrow_count")
    final = searcher.weighting.final
    found, seen = [], []
    for sub, offset in subsearchers(searcher):
        reader = sub.reader()
        column = reader.column_reader("borrow_count")
        for docnum in range(reader.doc_count_all()):
            if reader.is_deleted(docnum):
                continue
            stored = reader.stored_fields(docnum)
            seen.append(stored.get("id"))
            want = counts.get(stored.get("id"))
            read = (
                column[docnum],
                across[offset + docnum],
                stored.get("borrow_count"),
                final(sub, docnum, 1.0),
                final(searcher, offset + docnum, 1.0),
            )
            if want is None or read != (want, want, want, lift(want), lift(want)):
                found.append(f"{segment_id(reader)} #{docnum} (entry {stored.get('id')}) "
                             f"reads {read}, the database {want}")  # fmt: skip
    if sorted(seen) != sorted(counts):
        found.append(f"the index holds entries {sorted(seen)}, the database {sorted(counts)}")
    return found


def page_problems(results, counts: dict[str, int], most_borrowed: list[int]) -> list[str]:
    """Where a results page shows a reuse count, or an order, the database disagrees with."""
    shown = [hit.reused for hit in results.hits]
    want = [counts[str(hit.entry.id)] for hit in results.hits]
    request = results.request
    problems = [f"{request.text!r} shows counts {shown}, the database {want}"] * (shown != want)
    if request.sort == "most-borrowed" and want != sorted(want, reverse=True):
        problems.append(f"{request.text!r} sorts by reuse as {want}")
    if request.sort == "most-borrowed" and not request.text:
        top = most_borrowed[: request.per_page]
        problems += [f"the most borrowed are {want}, the database {top}"] * (want != top)
    return problems


def _save(engine, entry_ids: list[int], number: int) -> None:
    """A real change to one entry's summary, as committed with its change-log row."""
    entry_id = entry_ids[number % len(entry_ids)]
    with engine.begin() as connection:
        connection.execute(
            update(Entry).where(Entry.id == entry_id).values(summary=f"Column fodder {number}")
        )
        row = {"entry_id": entry_id, "recorded_at": utcnow()}
        connection.execute(SearchChange.__table__.insert().values(**row))


def _reused_ids(counts: dict[str, int]) -> list[int]:
    return sorted(int(entry_id) for entry_id, count in counts.items() if count)


def test_reuse_counts_read_right_while_searches_saves_and_merges_run(
    catalogue_app, monkeypatch, tmp_path
):
    index = index_of(catalogue_app)
    synonyms = catalogue_app.extensions["kb.search.synonyms"]
    with catalogue_app.app_context():
        engine = db.engine
    counts, most_borrowed = database_counts(engine)
    # Saves rewrite reused entries, so the segments merged hold entries that "most borrowed"
    # lists first; and the background merge runs as soon as saves pause.
    reused = _reused_ids(counts)
    assert len(reused) >= 5 and most_borrowed[0] >= 2, "the catalogue should have reused entries"
    monkeypatch.setattr(merges_module, "MERGE_WHEN_QUIET_FOR", 0.02)
    problems: list[str] = []
    errors: list[str] = []
    readings = [0] * THREADS
    done, merging = threading.Event(), threading.Event()

    def reading(number: int) -> None:
        rng = random.Random(number)
        # Most threads read as a process whose pooled searchers are all in use: every reading
        # opens a searcher, so some open while a merge deletes the files they are opening.
        # The others search as requests do, through the app's pool.
        opening = number < OPENING
        searching = SearchIndex(index.root, engine) if opening else index
        try:
            while not done.is_set():
                if opening:
                    if not merging.wait(0.05):
                        continue
                    searching.readers.close()
                problems.extend(searching.read(lambda snapshot: misreadings(snapshot, counts)))
                if not opening:
                    with catalogue_app.app_context():
                        results = search(searching, db.session, rng.choice(REQUESTS), synonyms)
                    problems.extend(page_problems(results, counts, most_borrowed))
                readings[number] += 1
        except BaseException:  # noqa: BLE001 - reported below
            errors.append(traceback.format_exc())
        finally:
            if opening:
                searching.close()

    # Threads take turns more often than Python's default, so openings and merges interleave.
    switching = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    # And a process of its own, opening a searcher for every reading as long as the saves go on.
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.test_search_columns", tmp_path / "instance",
         catalogue_app.config["DATABASE_URL"], str(time.time() + SECONDS)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    threads = [threading.Thread(target=reading, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    saves = merges = 0
    try:
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline and not errors:
            _save(engine, reused, saves)
            saves += 1
            merging.set()  # the opening threads open searchers until the merge is over
            index.catch_up(timeout=5)
            before = sync.segment_count(index.live_folder())
            index.wait_for_merge()  # the background merge, once the saves paused
            merging.clear()
            if sync.segment_count(index.live_folder()) < before:
                merges += 1
                problems.extend(index.read(lambda snapshot: misreadings(snapshot, counts)))
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=60)
        sys.setswitchinterval(switching)
        out, err = finish(process, timeout=60)
    assert process.returncode == 0, err[-3000:]
    other = json.loads(out)
    print(f"{saves} saves, {merges} merges, readings per thread {readings}, "
          f"in another process {other['readings']}")  # fmt: skip
    assert not errors + other["errors"], "\n".join((errors + other["errors"])[:2])
    assert not problems + other["problems"], "\n".join((problems + other["problems"])[:10])
    assert merges >= 3, "the index should have merged under the readers"
    assert other["readings"] > 0


def _past_the_merge_threshold(app) -> tuple[Path, dict]:
    """The live folder once saves left one segment more than a background merge allows (the
    merge itself kept off), and the reuse counts in the database."""
    index = index_of(app)
    index.merge_in_background = False
    with app.app_context():
        engine = db.engine
    counts, _most = database_counts(engine)
    for number in range(MERGE_ABOVE_SEGMENTS):
        _save(engine, _reused_ids(counts), number)
        index.catch_up(timeout=5)
    return index.live_folder(), counts


def test_a_searcher_opening_while_a_merge_deletes_its_files_opens_again(catalogue_app, monkeypatch):
    """The race above, made certain: a real merge lands after the searcher opened each
    segment's stored fields (Whoosh's first read) and before it opened the rest."""
    folder, counts = _past_the_merge_threshold(catalogue_app)
    assert sync.segment_count(folder) > MERGE_ABOVE_SEGMENTS
    opening = readers_module._open_files
    merged: list[bool] = []

    def merge_midway(leaves) -> None:
        for leaf in leaves:
            leaf.stored_fields(0)
        if not merged:
            with file_lock(folder / APPLY_LOCK, timeout=5):
                merged.append(sync.merge_small(folder, timeout=5))
        opening(leaves)

    monkeypatch.setattr(readers_module, "_open_files", merge_midway)
    readers = Readers()
    try:
        with readers.reading(folder) as snapshot:
            found = misreadings(snapshot, counts)
            opened = snapshot.generation
    finally:
        readers.close()
    assert merged == [True]
    assert found == []
    assert opened[1] == readers.generation(folder, None)[1], "it reads the merged index"


def test_a_reuse_count_misread_is_damage_not_a_quiet_lift(catalogue_app):
    """A document the index marks as borrowed whose count reads below one is a misread file:
    the search is refused as from a damaged index, which is rebuilt, rather than answered
    with a lift of nothing."""
    index = index_of(catalogue_app)
    index.repair_in_background = False
    synonyms = catalogue_app.extensions["kb.search.synonyms"]
    with catalogue_app.app_context():
        counts, _most = database_counts(db.engine)
    assert _reused_ids(counts)

    def misread(snapshot):
        searcher = snapshot.searcher
        for sub, _offset in subsearchers(searcher):
            reader = sub.reader()
            # The state the race left: the segment's reuse column taken for one it never had.
            reader._perdoc.has_column = frozenset({"_stored"}).__contains__
        return searcher

    misread_searcher = index.read(misread)
    assert misread_searcher.reader().column_reader("borrow_count")[0] == -(2**31)
    with catalogue_app.app_context(), pytest.raises(SearchUnavailable):
        search(index, db.session, SearchRequest("community", per_page=10), synonyms)
    assert index.wait_for_repair()
    with catalogue_app.app_context():
        results = search(index, db.session, SearchRequest("community", per_page=10), synonyms)
    assert results.hits and all(hit.reused == counts[str(hit.entry.id)] for hit in results.hits)


def test_a_segment_losing_its_postings_while_it_opens_leaves_no_file_open(catalogue_app):
    """Whoosh opens a segment's terms file, then its postings file: a merge deleting the
    second in between must not leave the first open."""
    index = index_of(catalogue_app)
    index.merge_in_background = False
    with catalogue_app.app_context():
        engine = db.engine
    counts, _most = database_counts(engine)
    _save(engine, _reused_ids(counts), 0)
    index.catch_up(timeout=5)
    public = index.live_folder() / "public"
    newest = whoosh_index.open_dir(str(public))._segments()[-1].segment_id()
    (public / f"{newest}.pst").unlink()
    assert_opening_fails_and_leaves_no_file_open(index.live_folder())


def test_a_file_merged_away_while_its_checksum_is_taken_is_no_damage(catalogue_app, monkeypatch):
    """Before a search, the files of the index are checked against their recorded checksums;
    a merge deleting one after its ``stat`` and before its checksum only merged it away."""
    folder, _counts = _past_the_merge_threshold(catalogue_app)
    segments = whoosh_index.open_dir(str(folder / "public"))._segments()
    doomed = tuple(f"{segment.segment_id()}." for segment in smallest(segments))
    checksum = integrity.crc_of
    merged: list[bool] = []

    def merge_midway(path):
        if not merged and path.name.startswith(doomed):
            with file_lock(folder / APPLY_LOCK, timeout=5):
                merged.append(sync.merge_small(folder, timeout=5))
        return checksum(path)

    monkeypatch.setattr(integrity, "crc_of", merge_midway)
    integrity.Verifier().verify(folder, ["public"])
    assert merged == [True]


# -- the other process ----------------------------------------------------------------------


def _reading_process(instance: str, database: str, until: str) -> None:
    """Open a searcher for every reading of the app's index until the time ``until`` (seconds
    since the epoch), checking each against the database; print how many, and what was
    wrong, as JSON."""
    from tests.conftest import make_app

    app = make_app(Path(instance), database)
    index = index_of(app)
    with app.app_context():
        counts, _most = database_counts(db.engine)
    report: dict = {"readings": 0, "problems": [], "errors": []}
    while time.time() < float(until):
        index.readers.close()
        try:
            report["problems"] += index.read(lambda snapshot: misreadings(snapshot, counts))
            report["readings"] += 1
        except Exception:  # noqa: BLE001 - reported to the test
            report["errors"].append(traceback.format_exc())
    index.close()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    _reading_process(*sys.argv[1:])
