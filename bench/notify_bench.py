"""What telling people costs: one published entry fanned out to many followers, and a feed
against the page it mirrors, each against a baseline measured in the same run.

    .venv/bin/python bench/notify_bench.py                 # 10,000 followers
    .venv/bin/python bench/notify_bench.py --followers 2000

On the sample catalogue:

- publishing an entry nobody follows (the baseline), then one followed by N people through its
  sector, then one that N people's saved searches match: the time from the save to the commit
  that writes its notifications and outbox rows (they are written in the same transaction);
- a sector's Atom feed against the sector's listing page, through the test client.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, insert, select

from kb import create_app
from kb.cli import upgrade_database
from kb.config import ROOT
from kb.db import db, utcnow
from kb.entries.content import Content
from kb.entries.editing import new_entry
from kb.models import Follow, Notification, Organisation, OutboxMessage, Sector, User
from kb.notifications.events import quietly
from kb.search import get_index
from kb.seeding import load_catalogue

QUERY = "q=beacon"


def make_app(folder: Path):
    return create_app({
        "SECRET_KEY": "bench", "TESTING": True, "DATABASE_URL": f"sqlite:///{folder / 'kb.sqlite'}",
        "SEARCH_INDEX_DIR": str(folder / "search"), "MAIL_SEND_IN_BACKGROUND": False,
    })  # fmt: skip


def add_followers(count: int, kind: str, target_id: int = 0, query: str = "") -> None:
    now = utcnow()
    first = (db.session.scalar(select(func.max(User.id))) or 0) + 1
    db.session.execute(insert(User), [
        {"email": f"follower{first + i}@bench.invalid", "display_name": f"Follower {i}",
         "role": "member", "created_at": now, "approved_at": now, "is_demo": False,
         "email_frequency": "immediately"}
        for i in range(count)
    ])  # fmt: skip
    ids = db.session.scalars(select(User.id).where(User.id >= first)).all()
    db.session.execute(insert(Follow), [
        {"user_id": i, "kind": kind, "target_id": target_id, "query": query, "name": "",
         "created_at": now} for i in ids
    ])  # fmt: skip
    db.session.commit()


def publish(title: str, organisation: Organisation) -> float:
    """Seconds from the save to the end of its commit (notifications included)."""
    content = Content(title=title, summary="A bench entry.", body="## Context\n\nBeacon text.\n",
                      channels=("x-twitter",), licence="OGL-UK-3.0")  # fmt: skip
    started = time.perf_counter()
    new_entry(db.session, organisation=organisation, author=None, kind="guidance",
              content=content, status="published", open_to_any_member=False, edit_summary="",
              now=utcnow())  # fmt: skip
    db.session.commit()
    return time.perf_counter() - started


def p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="span-notify-bench-"))
    try:
        app = make_app(folder)
        with app.app_context():
            upgrade_database()
            with quietly(db.session):
                load_catalogue(db.session, ROOT / "seed_data")
                db.session.commit()
            get_index().ensure()
            police = db.session.scalar(select(Sector).where(Sector.slug == "police"))
            owner = db.session.scalar(
                select(Organisation).where(Organisation.sector_id == police.id)
            )
            runs = range(args.runs)
            baseline = [publish(f"Unfollowed beacon notice {n}", owner) for n in runs]
            add_followers(args.followers, "sector", police.id)
            by_sector = [publish(f"Sector-followed beacon notice {n}", owner) for n in runs]
            db.session.execute(Follow.__table__.delete())
            db.session.commit()
            add_followers(args.followers, "search", query=QUERY)
            by_search = [publish(f"Search-followed beacon notice {n}", owner) for n in runs]
            written = db.session.scalar(select(func.count()).select_from(Notification))
            emails = db.session.scalar(select(func.count()).select_from(OutboxMessage))
        print(f"{args.followers:,} followers; {written:,} notifications and {emails:,} outbox "
              f"rows written in {2 * args.runs} publications\n")  # fmt: skip
        print(f"{'publish, save to commit':34} {'p50 ms':>8} {'x baseline':>11}")
        for label, samples in (("nobody following (baseline)", baseline),
                               ("followed through its sector", by_sector),
                               ("matched by followed searches", by_search)):  # fmt: skip
            print(f"{label:34} {p50(samples):8.1f} {p50(samples) / p50(baseline):10.1f}x")

        client = app.test_client()
        timings = {}
        for label, url in (("listing page /sectors/police", "/sectors/police?sort=newest"),
                           ("its feed", "/feeds/sectors/police.atom")):  # fmt: skip
            client.get(url)
            samples = []
            for _ in range(30):
                started = time.perf_counter()
                assert client.get(url).status_code == 200
                samples.append(time.perf_counter() - started)
            timings[label] = p50(samples)
        page = timings["listing page /sectors/police"]
        print(f"\n{'page':34} {'p50 ms':>8} {'x page':>11}")
        for label, value in timings.items():
            print(f"{label:34} {value:8.1f} {value / page:10.2f}x")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
