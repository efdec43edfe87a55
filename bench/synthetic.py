"""A synthetic Span catalogue for the search benchmark, and an FTS5 copy of it for the baseline.

Bodies are Markdown of roughly 300-900 words under the entry kind's usual headings. Each entry
has a theme (flood warnings, recruitment, QR codes, ...) whose words and phrases fill most of
its paragraphs; other words come from a Zipf-like distribution over function words, common
public-sector social media words and a long tail of invented words (place names, jargon), so
the index sees a realistically large lexicon. Rendering Markdown is slow, so a pool of
paragraphs is rendered once with ``kb.rendering.render_markdown`` and each body is a different
run of them (its HTML joined from the same pieces). Rows go in with bulk inserts, which bypass the
change-log listeners: the index rebuild reads entries directly.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from kb.config import ROOT
from kb.models import (
    Adoption,
    Borrow,
    Channel,
    Entry,
    EvidenceStage,
    Kind,
    Organisation,
    Outcome,
    Revision,
    Sector,
    Topic,
    entry_channels,
    entry_sectors,
    entry_topics,
)
from kb.models.org import name_key
from kb.rendering import render_markdown, text_of_html
from kb.seeding import load_taxonomy


def _split(words: str) -> list[str]:
    return list(dict.fromkeys(words.split()))


FUNCTION_WORDS = _split(
    "the and to of a in for we our with on was is that it by as from this were at be have "
    "people their which more an they had also not all but new who can used"
)
# Common across the whole catalogue, roughly most to least frequent.
GENERIC_WORDS = _split(
    "social media community staff service public residents posts team local council online "
    "information campaign messages channel support health police page audience followers "
    "engagement content partners video users digital updates help response reach training "
    "advice young news comments questions accounts guidance events website families officers "
    "groups results month data weeks survey share feedback trust school housing tenants fire "
    "calls schedule budget approval risk students parents transport newsletter email press "
    "statement graphics templates photos consent privacy security pilot trial managers "
    "frontline partnership briefing business weekend overnight"
)
# Each entry is about one theme: its words and phrases, mostly found in entries on it.
THEMES = {
    "winter vaccination reminders": ("winter vaccination flu clinics appointments patients "
                                     "booking eligible", ("winter vaccination", "flu jab")),
    "missing person appeals": ("missing appeal sightings description urgent found",
                               ("missing person", "police force")),
    "flood warnings": ("flooding flood weather storm warnings rivers sandbags evacuation",
                       ("flood warning", "rest centre")),
    "recruitment": ("recruitment vacancies jobs careers apprentices graduates interviews",
                    ("open day", "job fair")),
    "accessibility checks": ("accessibility captions subtitles readers contrast bsl",
                             ("easy read", "plain english", "alt text")),
    "staff social media policy": ("policy personal conduct moderation escalation",
                                  ("social media policy", "code of conduct")),
    "live chat": ("chat webchat enquiries queries rota customer", ("live chat",)),
    "community safety": ("safety crime antisocial patrols neighbourhood burglary knife",
                         ("community safety", "young people")),
    "emergency alerts": ("emergency alert alerts sirens incident multiagency warning shelter",
                         ("emergency alert", "blue light")),
    "QR codes on posters": ("poster leaflet scanning signage location map postcode",
                            ("qr codes", "qr code", "bus stop")),
    "consultation": ("consultation responses views planning proposals", ("have your say",)),
    "scam awareness": ("scams fraud awareness phone doorstep", ("trading standards",)),
    "evaluation": ("evaluation analytics metrics dashboard baseline impressions clicks",
                   ("return on investment",)),
    "bin collection changes": ("bins recycling collection waste calendar missed",
                               ("bank holiday",)),
    "cost of living support": ("energy heating foodbank benefits debt hardship grants",
                               ("cost of living", "warm spaces")),
    "volunteer recruitment": ("volunteers volunteering befriending loneliness isolation charity",
                              ("young people",)),
}  # fmt: skip
THEME_NAMES = tuple(THEMES)
GENERAL_PHRASES = ("social media", "young people", "text message", "local authority")
SYLLABLES = _split(
    "bran tel ock wick ham ley mor den ash ford by thorn vale cliff ridge stow well bury mere "
    "hol kes dun lin tre pen ros car mal nor sut wes bel fen gar har kin lan mar net par quin "
    "rad sel tam ul ver win yar zel"
)
SECTIONS = {
    "case_study": ("Context", "What we did", "Results", "Evidence", "Lessons", "Resources"),
    "guidance": ("Purpose", "Scope", "The guidance", "Do and don't", "Review"),
}
ORG_PATTERNS = {
    "police": ("{} Police", "{} Constabulary"),
    "health": ("{} NHS Trust", "{} Health Board"),
    "local-government": ("{} Council", "{} Borough Council", "{} District Council"),
    "fire-and-rescue": ("{} Fire and Rescue Service",),
    "education": ("{} College", "University of {}", "{} Academy Trust"),
    "housing": ("{} Homes", "{} Housing Association"),
    "third-sector": ("{} Volunteer Centre", "{} Community Trust", "{} Carers Network"),
    "central-government": ("{} Agency", "Office for {}"),
}
TITLE_PATTERNS = (
    "Using {channel} for {subject} in {place}",
    "{subject}: what we learned from {channel}",
    "How {place} reached {audience} with {channel}",
    "A {channel} guide to {subject}",
    "{subject} for {audience}",
    "Running {subject} on {channel} out of hours",
)
AUDIENCES = ("young people", "older residents", "carers", "tenants", "students", "new recruits",
             "parents", "patients", "businesses", "volunteers")  # fmt: skip
LICENCE_WEIGHTS = {"OGL-UK-3.0": 50, "CC-BY-4.0": 25, "CC-BY-SA-4.0": 10, "ask-first": 15}
STATUS_WEIGHTS = {"published": 88, "draft": 8, "archived": 4}


class Words:
    """A Zipf-like word source: function words, common words, a long tail of invented words
    with the theme words placed well down it, and each theme's words and phrases on top."""

    def __init__(self, rng: random.Random, tail: int):
        specific = _split(" ".join(words for words, _phrases in THEMES.values()))
        known = {*FUNCTION_WORDS, *GENERIC_WORDS, *specific}
        invented: list[str] = []
        while len(invented) < tail:
            word = "".join(rng.choices(SYLLABLES, k=rng.randint(2, 3)))
            if word not in known:
                known.add(word)
                invented.append(word)
        rng.shuffle(specific)
        self.words = [*FUNCTION_WORDS, *GENERIC_WORDS, *invented[:1500], *specific,
                      *invented[1500:]]  # fmt: skip
        self.cumulative = list(itertools.accumulate(1 / rank for rank in range(1, len(self) + 1)))
        self.themes = {name: (words.split(), phrases) for name, (words, phrases) in THEMES.items()}
        self.rng = rng

    def __len__(self) -> int:
        return len(self.words)

    def take(self, k: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cumulative, k=k)

    def sentence(self, theme: str | None) -> str:
        rng = self.rng
        words = self.take(rng.randint(8, 22))
        phrases = GENERAL_PHRASES
        if theme:
            own, phrases = self.themes[theme]
            words = [rng.choice(own) if rng.random() < 0.08 else w for w in words]
        if rng.random() < (0.25 if theme else 0.05):
            words.insert(rng.randrange(len(words)), rng.choice(phrases))
        text = " ".join(words)
        return text[0].upper() + text[1:] + "."


Pool = dict[str | None, list[tuple[str, str, int]]]


def paragraph_pool(words: Words, size: int) -> Pool:
    """For each theme (and None, no theme): (markdown, html, word count) for its share of
    ``size`` paragraphs, one in six a bulleted list."""
    pool: Pool = {}
    for theme in (None, *THEMES):
        pool[theme] = []
        for _ in range(size // (len(THEMES) + 1)):
            sentences = [words.sentence(theme) for _ in range(words.rng.randint(2, 5))]
            if words.rng.random() < 1 / 6:
                markdown = "\n".join(f"- {s}" for s in sentences)
            else:
                markdown = " ".join(sentences)
            pool[theme].append((markdown, str(render_markdown(markdown)), len(markdown.split())))
    return pool


def make_body(rng: random.Random, kind: str, theme: str, pool: Pool, headings) -> tuple[str, str]:
    """Markdown and HTML for one body of about 300-900 words, mostly on ``theme``."""
    sections = SECTIONS[kind]
    quota = rng.randint(150, 740) / len(sections)  # each section overshoots a little
    markdown, html = [], []
    for heading in sections:
        markdown.append(f"## {heading}")
        html.append(headings[heading])
        written = 0
        while written < quota:
            draw = rng.random()
            source = pool[theme if draw < 0.75 else None if draw < 0.9 else rng.choice(THEME_NAMES)]
            md, rendered, count = rng.choice(source)
            markdown.append(md)
            html.append(rendered)
            written += count
    return "\n\n".join(markdown), "\n".join(html)


def _place(rng: random.Random) -> str:
    return "".join(rng.choices(SYLLABLES, k=rng.randint(2, 3))).capitalize()


def _zipf_pick(rng: random.Random, items: list, k: int = 1) -> list:
    weights = [1 / (i + 1) for i in range(len(items))]
    chosen: list = []
    while len(chosen) < k:
        item = rng.choices(items, weights=weights)[0]
        if item not in chosen:
            chosen.append(item)
    return chosen


def build_catalogue(session: Session, n: int, seed: int = 7) -> dict:
    """Fill a migrated, empty database with ``n`` entries; returns a few counts."""
    rng = random.Random(seed)
    load_taxonomy(session, ROOT / "seed_data")
    sectors = session.scalars(select(Sector).order_by(Sector.position)).all()
    channels = session.scalars(select(Channel).order_by(Channel.position)).all()
    topics = session.scalars(select(Topic).order_by(Topic.position)).all()
    now = datetime.now(UTC)
    orgs, taken = [], set()
    for i in range(max(1, n // 40)):
        sector = sectors[i % len(sectors)]
        name = rng.choice(ORG_PATTERNS.get(sector.slug, ("{}",))).format(_place(rng))
        region = _place(rng)
        if name_key(name) in taken:  # organisation names are unique
            name = f"{name} {i + 1}"
        taken.add(name_key(name))
        orgs.append({"id": i + 1, "slug": f"org-{i + 1}", "name": name, "name_key": name_key(name),
                     "sector_id": sector.id, "region": region, "created_at": now})  # fmt: skip
    session.execute(insert(Organisation), orgs)
    words = Words(rng, tail=15_000)
    pool = paragraph_pool(words, min(max(2000, n // 2), 10_000))
    headings = {h: str(render_markdown(f"## {h}")) for s in SECTIONS.values() for h in s}
    org_weights = [1 / (i + 1) ** 0.6 for i in range(len(orgs))]
    statuses, status_weights = zip(*STATUS_WEIGHTS.items(), strict=True)
    licences, licence_weights = zip(*LICENCE_WEIGHTS.items(), strict=True)
    for start in range(0, n, 1000):
        entries, revisions, links = [], [], {"s": [], "c": [], "t": []}
        for entry_id in range(start + 1, min(n, start + 1000) + 1):
            org = rng.choices(orgs, weights=org_weights)[0]
            kind = Kind.CASE_STUDY.value if rng.random() < 0.6 else Kind.GUIDANCE.value
            chosen_channels = _zipf_pick(rng, channels, rng.randint(1, 3))
            subject, audience = rng.choice(THEME_NAMES), rng.choice(AUDIENCES)
            title = rng.choice(TITLE_PATTERNS).format(
                channel=chosen_channels[0].name, subject=subject, place=_place(rng),
                audience=audience)  # fmt: skip
            title = title[0].upper() + title[1:]
            summary = f"How {org['name']} used {chosen_channels[0].name} for {subject}: "
            summary = (summary + " ".join(words.take(40)))[:280].rsplit(" ", 1)[0] + "."
            case = kind == Kind.CASE_STUDY.value
            created = now - timedelta(days=rng.uniform(0, 5 * 365))
            row = {
                "id": entry_id, "slug": f"entry-{entry_id}", "kind": kind, "title": title,
                "summary": summary, "organisation_id": org["id"],
                "origin_sector_id": org["sector_id"],
                "licence": rng.choices(licences, licence_weights)[0],
                "evidence_stage": rng.choice(list(EvidenceStage)).value if case else None,
                "outcome": rng.choice(list(Outcome)).value if case and rng.random() < 0.8 else None,
                "status": rng.choices(statuses, status_weights)[0],
                "created_at": created, "updated_at": created + timedelta(days=rng.uniform(0, 60)),
                "current_revision_number": 1,
            }  # fmt: skip
            entries.append(row)
            body, body_html = make_body(rng, kind, subject, pool, headings)
            relevant = [
                s for s in rng.sample(sectors, rng.randint(0, 2)) if s.id != org["sector_id"]
            ]
            chosen_topics = rng.sample(topics, rng.randint(0, 3))
            revisions.append({
                "entry_id": entry_id, "number": 1, "title": title, "summary": summary,
                "body": body, "body_html": body_html, "created_at": row["updated_at"],
                "edit_summary": "Created", "details": {
                    "relevant_sectors": sorted(s.slug for s in relevant),
                    "channels": sorted(c.slug for c in chosen_channels),
                    "topics": sorted(t.slug for t in chosen_topics), "licence": row["licence"],
                    "evidence_stage": row["evidence_stage"], "outcome": row["outcome"],
                    "review_by": None,
                },
            })  # fmt: skip
            links["s"] += [{"entry_id": entry_id, "sector_id": s.id} for s in relevant]
            links["c"] += [{"entry_id": entry_id, "channel_id": c.id} for c in chosen_channels]
            links["t"] += [{"entry_id": entry_id, "topic_id": t.id} for t in chosen_topics]
        session.execute(insert(Entry), entries)
        session.execute(insert(Revision), revisions)
        for table, key in ((entry_sectors, "s"), (entry_channels, "c"), (entry_topics, "t")):
            if links[key]:
                session.execute(table.insert(), links[key])
        session.commit()
    borrows, adoptions = _reuse(session, rng, n, orgs)
    paragraphs = sum(map(len, pool.values()))
    return {"organisations": len(orgs), "paragraphs": paragraphs, "lexicon": len(words),
            "borrows": borrows, "adoptions": adoptions}  # fmt: skip


def _reuse(session: Session, rng: random.Random, n: int, orgs: list[dict]) -> tuple[int, int]:
    """Mark about 4% of entries as copies and add adoptions for about 3%, drawn Zipf-like so a
    few sources are borrowed often (the ranking lift and "most borrowed" have work to do)."""
    ids = list(range(1, n + 1))
    copies = rng.sample(ids, n // 25)
    sources = [i for i in ids if i not in set(copies)]
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(sources))]
    borrows = [
        {"entry_id": copy, "source_id": source, "source_revision": 1, "borrowed_revision": 1,
         "licence": "OGL-UK-3.0", "note": "Adapted for our area.", "created_at": datetime.now(UTC)}
        for copy, source in zip(copies, rng.choices(sources, weights, k=len(copies)), strict=True)
    ]  # fmt: skip
    adoptions = {
        (rng.choice(orgs)["id"], source) for source in rng.choices(sources, weights, k=n // 33)
    }
    session.execute(insert(Borrow), borrows)
    if adoptions:
        session.execute(insert(Adoption), [
            {"organisation_id": org, "entry_id": entry, "revision": 1, "note": "",
             "created_at": datetime.now(UTC)} for org, entry in adoptions
        ])  # fmt: skip
    session.commit()
    return len(borrows), len(adoptions)


FTS_SCHEMA = (
    "CREATE VIRTUAL TABLE entry_fts USING fts5("
    "title, summary, body, tags, tokenize = 'porter unicode61 remove_diacritics 2')"
)
_FTS_SOURCE = """
SELECT e.id, e.title, e.summary, r.body_html, e.kind, o.name,
  (SELECT group_concat(name, ' ') FROM (
     SELECT s.name FROM sectors s WHERE s.id = e.origin_sector_id
     UNION ALL SELECT s.name FROM entry_sectors x JOIN sectors s ON s.id = x.sector_id
       WHERE x.entry_id = e.id
     UNION ALL SELECT c.name FROM entry_channels x JOIN channels c ON c.id = x.channel_id
       WHERE x.entry_id = e.id
     UNION ALL SELECT t.name FROM entry_topics x JOIN topics t ON t.id = x.topic_id
       WHERE x.entry_id = e.id))
FROM entries e
JOIN organisations o ON o.id = e.organisation_id
JOIN revisions r ON r.entry_id = e.id AND r.number = e.current_revision_number
"""

# One results page on the FTS5 copy: facet counts over the temporary table ``hits`` (the
# matching published ids) narrowed by ``{w}``, and the top hits by bm25 with snippets.
FTS_FACET_SQL = {
    "kind": "SELECT e.kind, e.kind, count(*) FROM hits h JOIN entries e ON e.id = h.id "
            "WHERE {w} GROUP BY e.kind",
    "organisation": "SELECT o.slug, o.name, count(*) FROM hits h JOIN entries e ON "
                    "e.id = h.id JOIN organisations o ON o.id = e.organisation_id WHERE {w} "
                    "GROUP BY o.id ORDER BY count(*) DESC, o.name",
    "channel": "SELECT t.slug, t.name, count(*) FROM hits h JOIN entries e ON e.id = h.id "
               "JOIN entry_channels x ON x.entry_id = e.id JOIN channels t ON "
               "t.id = x.channel_id WHERE {w} GROUP BY t.id ORDER BY t.position",
    "topic": "SELECT t.slug, t.name, count(*) FROM hits h JOIN entries e ON e.id = h.id "
             "JOIN entry_topics x ON x.entry_id = e.id JOIN topics t ON t.id = x.topic_id "
             "WHERE {w} GROUP BY t.id ORDER BY t.position",
    "sector": "SELECT t.slug, t.name, count(*) FROM (SELECT e.origin_sector_id AS sid FROM "
              "hits h JOIN entries e ON e.id = h.id WHERE {w} UNION ALL SELECT x.sector_id "
              "FROM hits h JOIN entries e ON e.id = h.id JOIN entry_sectors x ON "
              "x.entry_id = e.id WHERE {w}) JOIN sectors t ON t.id = sid "
              "GROUP BY t.id ORDER BY t.position",
}  # fmt: skip
FTS_TOP_SQL = (
    "SELECT f.rowid, highlight(entry_fts, 0, '<mark>', '</mark>'), "
    "snippet(entry_fts, 2, '<mark>', '</mark>', '…', 32) FROM entry_fts f "
    "JOIN hits h ON h.id = f.rowid JOIN entries e ON e.id = f.rowid "
    "WHERE entry_fts MATCH ? AND {w} ORDER BY bm25(entry_fts, 4.0, 2.0, 1.0, 1.5) LIMIT ?"
)


def build_fts(database: str) -> float:
    """Add an FTS5 table over title, summary, body text and tags; returns seconds taken."""
    started = time.perf_counter()
    connection = sqlite3.connect(database)
    try:
        with connection:
            connection.execute(FTS_SCHEMA)
            rows = (
                (entry_id, title, summary, text_of_html(html or ""),
                 f"{Kind(kind).label} {org} {tags or ''}")
                for entry_id, title, summary, html, kind, org, tags
                in connection.execute(_FTS_SOURCE).fetchall()
            )  # fmt: skip
            connection.executemany(
                "INSERT INTO entry_fts (rowid, title, summary, body, tags) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            connection.execute("INSERT INTO entry_fts (entry_fts) VALUES ('optimize')")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return time.perf_counter() - started
