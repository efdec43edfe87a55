"""Helpers for the search tests, and the small programs they run as separate processes.

Run from the repository root as ``python -m tests.search_support COMMAND ARGS``:

- ``hold-lock INDEX_DIR [optimize]``: take the live index's Whoosh writer lock, print
  ``locked``, and hold it until a line arrives on stdin; then give it up, or (``optimize``)
  merge the segments as ``kb optimize`` and the background merge do.
- ``save-and-die INSTANCE DATABASE SLUG TITLE``: sign in as the demo editor of the entry's
  organisation, retitle the entry through the edit form, and SIGKILL the process after the
  request committed but before the after-request catch-up runs.
- ``worker INSTANCE DATABASE BARRIER NAME SLUG...``: wait for ``BARRIER/go``, then save each
  slug in turn through the services, commit, and catch up as the app does after a request.
  Prints a JSON summary.
- ``search-loop INSTANCE DATABASE SECONDS QUERY...``: search for each query in turn from two
  threads until SECONDS have passed, as requests do; print, per query, every distinct set of
  entry ids seen (with its total), and any errors, as JSON.
"""

from __future__ import annotations

import gc
import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from kb.db import db, utcnow
from kb.entries.content import current_content
from kb.entries.editing import EditConflict, save_edit
from kb.models import Entry
from kb.search.check import check
from kb.search.index import SearchIndex
from kb.search.readers import Readers
from tests.editor_support import entry_by_slug

ROOT = Path(__file__).resolve().parent.parent
_RESULTS = re.compile(r'<ol class="entry-list search-results".*?</ol>', re.S)
_ENTRY_LINK = re.compile(r'href="/entries/([^"/?#]+)"')


def spawn(*args: str) -> subprocess.Popen:
    """One of this module's programs, in a process of its own (the caller closes its pipes)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.search_support", *map(str, args)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, text: str = "", timeout: float = 30) -> tuple[str, str]:
    """Send ``text`` to ``process``, wait for it and return its output, closing its pipes."""
    try:
        return process.communicate(text, timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def assert_opening_fails_and_leaves_no_file_open(folder: Path) -> None:
    """Opening a searcher on ``folder`` (whose newest segment lost files) raises an OSError,
    and no file it opened on the way is left for the garbage collector to close."""
    readers = Readers()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(OSError), readers.reading(folder):
            pass
        gc.collect()
    readers.close()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def index_of(app) -> SearchIndex:
    """The app's own index object, as its requests use it."""
    return app.extensions["kb.search"].get()


def drift(app):
    """How the app's index differs from its database, checked through a fresh index object."""
    with app.app_context():
        return check(SearchIndex(Path(app.config["SEARCH_INDEX_DIR"]), db.engine))


def found(client, text: str, **params) -> list[str]:
    """The slugs /search lists for ``text``, every page of them (the results lists only,
    never "nearest matches")."""
    slugs: list[str] = []
    per_page = client.application.config["SEARCH_RESULTS_PER_PAGE"]
    for page in range(1, 20):
        response = client.get("/search", query_string={"q": text, "page": page, **params})
        assert response.status_code == 200, response.text[:500]
        listing = _RESULTS.search(response.text)
        listed = _ENTRY_LINK.findall(listing.group(0)) if listing else []
        slugs += listed
        if len(listed) < per_page or f"page={page + 1}" not in response.text:
            return slugs
    raise AssertionError("too many pages")


def edit(session, entry: Entry, *, status: str | None = None, **changes):
    """Save ``changes`` to the entry's text or details over its current revision."""
    content = replace(current_content(entry), **changes)
    return save_edit(session, entry, author=None, content=content,
                     base=entry.current_revision_number, edit_summary="test", now=utcnow(),
                     status=status)  # fmt: skip


# -- the programs ---------------------------------------------------------------------------


def _hold_lock(root: str, then: str = "cancel") -> None:
    from whoosh import index as whoosh_index

    folder = Path(root) / os.readlink(Path(root) / "current") / "public"
    writer = whoosh_index.open_dir(str(folder)).writer()
    print("locked", flush=True)
    sys.stdin.readline()
    if then == "optimize":
        writer.commit(optimize=True)
    else:
        writer.cancel()


def _app(instance: str, database: str):
    from tests.conftest import make_app

    return make_app(Path(instance), database)


def _save_and_die(instance: str, database: str, slug: str, title: str) -> None:
    from flask import request

    from kb.accounts.demo import DEMO_PASSWORD
    from tests.editor_support import Page
    from tests.web import csrf_token, sign_in

    app = _app(instance, database)

    @app.after_request  # registered last, so it runs before the app's own catch-up
    def _die_after_commit(response):
        saved = request.method == "POST" and response.status_code == 302
        if saved and request.path.endswith("/edit"):
            os.kill(os.getpid(), signal.SIGKILL)
        return response

    with app.app_context():
        organisation = entry_by_slug(db.session, slug, refresh=False).organisation.slug
    client = app.test_client()
    assert sign_in(client, f"editor@{organisation}.example", DEMO_PASSWORD).status_code == 302
    form = Page(client.get(f"/entries/{slug}/edit").text).form("/edit")
    form["title"], form["action"] = title, "save"
    form["csrf_token"] = csrf_token(client, f"/entries/{slug}/edit")
    response = client.post(f"/entries/{slug}/edit", data=form)
    print(f"not killed: {response.status_code} {response.text[:300]}", flush=True)
    sys.exit(3)


def _worker(instance: str, database: str, barrier: str, name: str, *slugs: str) -> None:
    app = _app(instance, database)
    index = index_of(app)
    (Path(barrier) / f"{name}.ready").touch()
    while not (Path(barrier) / "go").exists():
        time.sleep(0.005)
    summary = {"saved": 0, "conflicts": 0, "lock_busy": 0}
    for number, slug in enumerate(slugs):
        with app.app_context():
            session = db.session
            try:
                edit(
                    session,
                    entry_by_slug(session, slug, refresh=False),
                    summary=f"{name} pass {number} zq{name}",
                )
                session.commit()
                summary["saved"] += 1
            except EditConflict:
                session.rollback()
                summary["conflicts"] += 1
            # What the app's after_request hook does for a request that wrote.
            if session.info.pop("search_changed", False) and index.catch_up() is None:
                summary["lock_busy"] += 1
    index.close()
    print(json.dumps(summary), flush=True)


def _search_loop(instance: str, database: str, seconds: str, *queries: str) -> None:
    import threading
    import traceback

    from kb.search import SearchUnavailable
    from kb.search.service import SearchRequest, search

    app = _app(instance, database)
    index, synonyms = index_of(app), app.extensions["kb.search.synonyms"]
    seen: dict[str, set] = {query: set() for query in queries}
    errors: list[str] = []
    counts = {"searches": 0, "unavailable": 0}
    deadline = time.monotonic() + float(seconds)

    def loop() -> None:
        while time.monotonic() < deadline:
            for query in queries:
                try:
                    with app.app_context():
                        index.catch_up(timeout=0)
                        found = search(index, db.session, SearchRequest(query, per_page=100),
                                       synonyms)  # fmt: skip
                    ids = tuple(sorted(hit.entry.id for hit in found.hits))
                    seen[query].add((found.total, ids))
                    counts["searches"] += 1
                except SearchUnavailable:
                    counts["unavailable"] += 1
                except Exception:  # noqa: BLE001 - reported to the test
                    errors.append(traceback.format_exc())

    threads = [threading.Thread(target=loop) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    index.close()
    pages = {query: sorted(map(list, found)) for query, found in seen.items()}
    print(json.dumps({"pages": pages, "errors": errors[:3], **counts}), flush=True)


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    programs = {"hold-lock": _hold_lock, "save-and-die": _save_and_die, "worker": _worker,
                "search-loop": _search_loop}  # fmt: skip
    programs[command](*arguments)
