"""Browse-page query cost on a synthetic catalogue, against a plain-SQL baseline in the same run.

    make bench                       # 5,000 entries
    .venv/bin/python bench/browse_bench.py --n 20000

Prints p50/p95 milliseconds for: a filtered sector listing (page of 20 + three facet counts),
the home page's sector x channel grid, and the baseline (one indexed SELECT of 20 rows).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import select, text

from kb import create_app
from kb.cli import upgrade_database
from kb.config import ROOT
from kb.db import db
from kb.entries.listing import parse_listing
from kb.entries.queries import EntryFilter, facet_counts, list_entries, sector_channel_grid
from kb.entries.services import create_entry
from kb.models import Channel, Organisation, Sector, Topic
from kb.seeding import load_taxonomy

VOCABULARY = (
    "council police health staff guidance channel post reply alert emergency trust "
    "training community evaluate measure reach audience volunteer policy account"
)
WORDS = VOCABULARY.split(" ")


def build(n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    session = db.session
    load_taxonomy(session, ROOT / "seed_data")
    sectors = session.scalars(select(Sector)).all()
    channels = session.scalars(select(Channel)).all()
    topics = session.scalars(select(Topic)).all()
    orgs = [
        Organisation(slug=f"org-{i}", name=f"Org {i}", sector=rng.choice(sectors))
        for i in range(60)
    ]
    session.add_all(orgs)
    for i in range(n):
        body = "\n\n".join(" ".join(rng.choices(WORDS, k=60)) for _ in range(5))
        create_entry(
            session,
            organisation=rng.choice(orgs),
            author=None,
            slug=f"entry-{i}",
            kind=rng.choice(["case_study", "guidance"]),
            title=" ".join(rng.choices(WORDS, k=6)),
            summary=" ".join(rng.choices(WORDS, k=20)),
            body=f"## Context\n\n{body}",
            channels=rng.sample(channels, rng.randint(1, 3)),
            topics=rng.sample(topics, 2),
            relevant_sectors=rng.sample(sectors, rng.randint(0, 2)),
            status="published",
        )
        if i % 1000 == 999:
            session.commit()
    session.commit()


def timed(fn, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="entries to generate")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "TESTING": True,
                "DATABASE_URL": f"sqlite:///{Path(folder) / 'bench.sqlite'}",
            }
        )
        with app.app_context(), app.test_request_context():
            upgrade_database()
            start = time.perf_counter()
            build(args.n)
            print(f"catalogue: {args.n} entries built in {time.perf_counter() - start:.1f} s")
            session = db.session
            from werkzeug.datastructures import MultiDict

            police = session.scalar(select(Sector).where(Sector.slug == "police"))
            query = MultiDict(
                [
                    ("channel", "x-twitter"),
                    ("channel", "facebook"),
                    ("kind", "guidance"),
                    ("sort", "title"),
                ]
            )

            def listing():
                found = parse_listing(
                    session, query, EntryFilter(sector=(police.id,)), ("channel", "topic", "kind")
                )
                list_entries(session, found.filter, sort=found.sort)
                for facet in ("channel", "topic", "kind"):
                    facet_counts(session, found.filter, facet)

            def baseline():
                session.execute(
                    text(
                        "SELECT * FROM entries WHERE status = 'published' "
                        "ORDER BY created_at DESC LIMIT 20"
                    )
                ).all()

            base = timed(baseline, args.runs)
            rows = [
                ("baseline: SELECT 20 rows", base),
                ("sector listing + 3 facets", timed(listing, args.runs)),
                (
                    "home sector x channel grid",
                    timed(lambda: sector_channel_grid(session), args.runs),
                ),
            ]
            print(f"{'query':32} {'p50 ms':>8} {'p95 ms':>8} {'p50 / baseline':>15}")
            for name, (p50, p95) in rows:
                print(f"{name:32} {p50:8.2f} {p95:8.2f} {p50 / base[0]:15.1f}")


if __name__ == "__main__":
    main()
