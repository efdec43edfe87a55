"""Where a page's time goes: cProfile over the pages ``bench/load.py`` measures.

    .venv/bin/python bench/profile_pages.py                  # every page, 200 requests each
    .venv/bin/python bench/profile_pages.py --page entry --requests 500 --top 30
    .venv/bin/python bench/profile_pages.py --page search --entries 10000

Sets up the sample catalogue as ``kb init`` does, in a temporary folder, then requests each
page through Flask's test client as an anonymous reader (``--signed-in`` for a member), with
the shared page cache off unless ``--cached`` (so the page's own code is what is measured), and
prints the mean milliseconds of CPU per request (plain, then under the profiler) and the functions
with the most time of their own and in total. Run it before changing a page's code and
after, one right after the other.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb import create_app  # noqa: E402
from kb.db import db  # noqa: E402
from kb.models import Entry, Sector  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from load import WORDS  # noqa: E402

PAGES = ("home", "listing", "entry", "search")


def _paths(app) -> dict[str, list[str]]:
    with app.app_context():
        entries = db.session.scalars(
            select(Entry.slug).where(Entry.status == "published").order_by(Entry.id)
        ).all()
        sector = db.session.scalars(select(Sector.slug).order_by(Sector.position)).first()
    # The load bench's searches: a different pair of its words each time.
    searches = [f"/search?q={first}+{second}" for first in WORDS for second in WORDS]
    random.Random(16).shuffle(searches)
    return {
        "home": ["/"],
        "listing": [f"/sectors/{sector}"],
        "entry": [f"/entries/{slug}" for slug in entries],
        "search": searches,
    }


def _timed(client, urls: list[str], requests: int, call) -> float:
    """Mean milliseconds of CPU per request over ``requests`` of ``urls`` in turn: the
    process's own time, so other work on the machine does not count."""
    started = time.process_time()
    for n in range(requests):
        url = urls[n % len(urls)]
        response = call(client.get, url)
        assert response.status_code == 200, (url, response.status_code)
    return (time.process_time() - started) * 1000 / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", choices=PAGES, action="append", help="default: all of them")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--signed-in", action="store_true", help="as the demo editor")
    parser.add_argument("--cached", action="store_true", help="with the shared page cache on")
    parser.add_argument("--entries", type=int, default=0, help="a synthetic catalogue this big")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="span-profile-"))
    app = create_app({
        "SECRET_KEY": "profile", "DATABASE_URL": f"sqlite:///{folder / 'kb.sqlite'}",
        "SEARCH_INDEX_DIR": str(folder / "search"), "WTF_CSRF_ENABLED": False,
        "PAGE_CACHE": args.cached,
    })  # fmt: skip
    if args.entries:  # kb init then leaves the sample out and indexes these
        from synthetic import build_catalogue

        from kb.cli import upgrade_database

        with app.app_context():
            upgrade_database()
            build_catalogue(db.session, args.entries)
            db.session.commit()
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    paths = _paths(app)
    client = app.test_client()
    if args.signed_in:
        from kb.accounts.demo import DEMO_PASSWORD
        from kb.models import User

        with app.app_context():
            email = db.session.scalar(select(User.email).where(User.email.like("editor@%")))
        client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
    for page in args.page or PAGES:
        urls = paths[page]
        for url in urls[:10]:  # warm the caches and searchers
            assert client.get(url).status_code == 200, url
        plain = _timed(client, urls, args.requests, lambda get, url: get(url))
        profiler = cProfile.Profile()
        profiled = _timed(client, urls, args.requests, profiler.runcall)
        print(f"\n=== {page}: {plain:.2f} ms of CPU per request ({profiled:.2f} under cProfile)")
        stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
