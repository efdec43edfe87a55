"""Entries like a given text or entry: "Search before you write" and "Related across sectors".

Similarity is Whoosh's key-term expansion (Bo1): the most telling words of the text, searched
for across titles, summaries and bodies. "Very similar" (the interstitial on submit) is
stricter: most of the new title's words appear in an existing title.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session
from whoosh import query as Q

from kb.models import Entry, Status
from kb.search.index import SearchIndex
from kb.search.query import analyse, any_of
from kb.search.rows import load_entries
from kb.search.service import docs_with, visible_docs

KEY_TERMS = 12
VERY_SIMILAR_TITLE_OVERLAP = 0.75


@dataclass(frozen=True)
class Similar:
    entry: Entry
    very_similar: bool


def _key_terms_query(searcher, text: str) -> Q.Query | None:
    terms = searcher.key_terms_from_text("body", text, numterms=KEY_TERMS)
    if not terms:
        return None
    return any_of(
        [
            Q.Term(field, word, boost=weight)
            for word, weight in terms
            for field in ("title", "summary", "body")
        ]
    )


def _title_overlap(new_title: str, existing_title: str) -> float:
    new, existing = set(analyse(new_title)), set(analyse(existing_title))
    if not new or not existing:
        return 0.0
    return len(new & existing) / len(new | existing)


def similar_to_text(
    index: SearchIndex, session: Session, *, title: str, summary: str = "", limit: int = 5
) -> list[Similar]:
    """Published entries, from any sector, like a new entry's title and summary."""
    text = f"{title} {title} {summary}".strip()  # the title counts double
    if len(analyse(text)) == 0:
        return []

    def matching(snapshot) -> list[int]:
        built = _key_terms_query(snapshot.searcher, text)
        if built is None:
            return []
        allowed = visible_docs(snapshot, include_archived=False)
        return [
            int(hit["id"]) for hit in snapshot.searcher.search(built, filter=allowed, limit=limit)
        ]

    ids = index.read(matching)
    entries = load_entries(session, ids)
    found = []
    for entry_id in ids:
        entry = entries.get(entry_id)
        if entry is not None and entry.status == Status.PUBLISHED.value:
            overlap = _title_overlap(title, entry.title)
            found.append(Similar(entry, overlap >= VERY_SIMILAR_TITLE_OVERLAP))
    return found


def related_ids(index: SearchIndex, entry: Entry, *, limit: int = 5) -> tuple[list[int], int]:
    """The ids of up to ``limit`` public entries like ``entry`` from other sectors, best
    first, and the change-log id the index had applied before it was asked (so a change
    applied meanwhile counts as newer than the answer)."""
    origin = entry.origin_sector.slug
    applied = index.applied()

    def matching(snapshot) -> list[int]:
        searcher = snapshot.searcher
        docnum = searcher.document_number(id=str(entry.id))
        text = f"{entry.title} {entry.title} {entry.summary}"
        if docnum is not None:
            text = f"{text} {searcher.stored_fields(docnum).get('body', '')}"
        built = _key_terms_query(searcher, text)
        if built is None:
            return []
        allowed = visible_docs(snapshot, include_archived=False)
        allowed -= docs_with(snapshot, "origin_sector", [origin])
        if docnum is not None:
            allowed.discard(docnum)
        return [int(hit["id"]) for hit in searcher.search(built, filter=allowed, limit=limit)]

    return [i for i in index.read(matching) if i != entry.id], applied
