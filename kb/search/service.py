"""Searching: a query, facet counts, highlighted hits and the rows behind them.

Facets follow the listings' rules: several values in one facet widen (OR), different facets
narrow (AND), and each facet's counts ignore that facet's own choice. Counts come from the
index's keyword postings, cached once per searcher, intersected with the query's matches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import reduce

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from whoosh.query import NullQuery
from whoosh.sorting import FieldFacet, MultiFacet, ScoreFacet

from kb import permissions
from kb.models import TERM_MODELS, Entry, Kind, Organisation, Status
from kb.search.documents import ACROSS_SECTORS
from kb.search.highlights import Snippet, configure, snippets, whole
from kb.search.index import SearchIndex
from kb.search.query import Synonyms, all_words, bounded, build, parse
from kb.search.readers import Snapshot
from kb.search.schema import FACETS, SPELLING_ANALYZER
from kb.vocabulary import FACET_LABELS, FacetValue, Paginated, facet_values, sorts

SORTS = sorts("relevance", "newest", "most-borrowed")
SORT_OPTIONS = {
    "newest": {"sortedby": "created", "reverse": True},
    "most-borrowed": {
        "sortedby": MultiFacet([FieldFacet("borrow_count", reverse=True), ScoreFacet()])
    },
}


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    selected: dict[str, tuple[str, ...]] = field(default_factory=dict)  # facet -> values
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    include_archived: bool = False
    drafts_of: int | None = None  # the organisation whose drafts may be shown (its members')
    borrowed_across: bool = False  # only entries borrowed or adopted by another sector


@dataclass(frozen=True)
class Hit:
    entry: Entry
    title: Snippet | None  # the title with matches marked, if it matched
    snippets: tuple[Snippet, ...]
    reused: int = 0  # public copies plus adoptions, as indexed


@dataclass
class SearchResults(Paginated):
    request: SearchRequest
    hits: list[Hit]
    total: int
    facets: list[tuple[str, str, list[FacetValue]]]
    total_without_filters: int
    suggestion: str | None = None
    nearest: list[Hit] = field(default_factory=list)
    shortened: bool = False  # the query had more words than one search may cost
    generation: tuple = ()  # which state of the index answered
    # Filters typed in the query (channel:tiktok) that name nothing: (facet, value, known names)
    unknown: list[tuple[str, str, list[str]]] = field(default_factory=list)

    @property
    def number(self) -> int:
        return self.request.page

    @property
    def per_page(self) -> int:
        return self.request.per_page

    @property
    def filtered(self) -> bool:
        return any(self.request.selected.values()) or self.request.borrowed_across


# -- what is cached per searcher ------------------------------------------------------------


def keyword_docs(snapshot: Snapshot, fieldname: str) -> dict[str, frozenset[int]]:
    """For each value of a keyword field, the documents holding it.

    Built per segment and kept across searchers (segments never change), so a save costs
    reading only its own small segment. Documents deleted since are harmless here: every
    count and page intersects these sets with the query's live matches."""
    cache = snapshot.cache.setdefault("keywords", {})
    if fieldname not in cache:
        merged: dict[str, set[int]] = {}
        for segment_reader, offset in snapshot.searcher.reader().leaf_readers():
            local = _segment_keywords(snapshot, segment_reader, fieldname)
            for value, docs in local.items():
                shifted = docs if offset == 0 else {doc + offset for doc in docs}
                merged.setdefault(value, set()).update(shifted)
        cache[fieldname] = {value: frozenset(docs) for value, docs in merged.items()}
    return cache[fieldname]


def _segment_keywords(snapshot: Snapshot, reader, fieldname: str) -> dict[str, frozenset[int]]:
    key = (reader.segment().segment_id(), fieldname)
    found = snapshot.segments.get(key)
    if found is None:
        found = {
            value.decode() if isinstance(value, bytes) else value: frozenset(
                reader.postings(fieldname, value).all_ids()
            )
            for value in reader.lexicon(fieldname)
        }
        snapshot.segments[key] = found
    return found


def docs_with(snapshot: Snapshot, fieldname: str, values: Sequence[str]) -> set[int]:
    found = keyword_docs(snapshot, fieldname)
    return set().union(*(found.get(v, frozenset()) for v in values))


def visible_docs(snapshot: Snapshot, include_archived: bool) -> set[int]:
    """Published entries, plus archived ones if asked for, plus the drafts in the snapshot,
    which holds only those of the reader's own organisation (see ``readers.py``)."""
    statuses = [Status.PUBLISHED.value, Status.DRAFT.value]
    return docs_with(snapshot, "status", statuses + [Status.ARCHIVED.value] * include_archived)


# -- keyword values people type ---------------------------------------------------------------


class Resolver:
    """Turns a typed keyword value ("YouTube", "twitter", "case study") into slugs."""

    def __init__(self, session: Session):
        self.session = session
        self._maps: dict[str, dict[str, list[str]]] = {}

    def _map(self, fieldname: str) -> dict[str, list[str]]:
        if fieldname not in self._maps:
            names: dict[str, list[str]] = {}
            if fieldname in TERM_MODELS or fieldname == "organisation":
                model = TERM_MODELS.get(fieldname, Organisation)
                for slug, name in self.session.execute(select(model.slug, model.name)):
                    keys = {slug, name.lower()}
                    if model is not Organisation:  # "twitter" means x-twitter, "qr" qr-codes
                        keys |= {*slug.split("-"), *name.lower().split("/")}
                    for key in keys:
                        names.setdefault(key, []).append(slug)
            elif fieldname == "kind":
                for kind in Kind:
                    for key in (kind.value, kind.value.replace("_", "-"), kind.label.lower()):
                        names[key] = [kind.value]
            self._maps[fieldname] = names
        return self._maps[fieldname]

    def __call__(self, fieldname: str, value: str) -> list[str]:
        value = " ".join(value.lower().split())
        return sorted(set(self._map(fieldname).get(value, [])))


# -- searching --------------------------------------------------------------------------------


def search(
    index: SearchIndex, session: Session, request: SearchRequest, synonyms: Synonyms
) -> SearchResults:
    """One page of results for ``request``, with facets, snippets and a spelling suggestion.
    Raises ``SearchUnavailable`` while the index is being built or repaired."""
    return index.read(
        lambda snapshot: _search(snapshot, session, request, synonyms), request.drafts_of
    )


def _search(snapshot, session, request, synonyms) -> SearchResults:
    searcher = snapshot.searcher
    resolver = Resolver(session)
    clauses, shortened = bounded(synonyms.expand(parse(request.text)))
    # Text with nothing searchable in it (punctuation, emoji) matches nothing, like "the".
    whoosh_query = build(clauses, resolver) if clauses or not request.text.strip() else NullQuery
    first_tier = all_words(clauses, resolver)
    matched = set(searcher.docs_for_query(whoosh_query))
    matched &= visible_docs(snapshot, request.include_archived)
    chosen = {
        facet: docs_with(snapshot, facet, values)
        for facet, values in request.selected.items()
        if values
    }
    if request.borrowed_across:
        chosen["reuse"] = docs_with(snapshot, "reuse", [ACROSS_SECTORS])
    final = reduce(set.intersection, chosen.values(), matched)
    facets = _facets(session, snapshot, matched, chosen, request)
    hits = _hits(session, snapshot, _cheapest(snapshot, whoosh_query, first_tier, final, request),
                 final, request)  # fmt: skip
    results = SearchResults(request, hits, len(final), facets, len(matched), shortened=shortened,
                            generation=snapshot.generation)  # fmt: skip
    results.suggestion = suggest(snapshot, request.text, synonyms)
    results.unknown = _unknown_filters(session, clauses, resolver)
    if not final:
        results.nearest = _nearest(snapshot, session, request, synonyms, results.suggestion)
    return results


def _unknown_filters(session, clauses, resolver) -> list[tuple[str, str, list[str]]]:
    """Each typed filter on a sector, channel, topic, kind or organisation naming none, with
    the names it could have used (none listed for organisations: there are too many)."""
    unknown = []
    for clause in clauses:
        if clause.field in FACET_LABELS and not resolver(clause.field, clause.text):
            if clause.field in TERM_MODELS:
                model = TERM_MODELS[clause.field]
                names = list(session.scalars(select(model.name).order_by(model.position)))
            elif clause.field == "kind":
                names = [kind.label for kind in Kind]
            else:
                names = []
            unknown.append((clause.field, clause.text, names))
    return unknown


def _facets(session, snapshot, matched, chosen, request) -> list:
    out = []
    for facet in FACETS:
        others = [docs for name, docs in chosen.items() if name != facet]
        pool = reduce(set.intersection, others, matched) if others else matched
        counts = {
            value: n
            for value, docs in keyword_docs(snapshot, facet).items()
            if (n := len(pool & docs))
        }
        selected = request.selected.get(facet, ())
        values = facet_values(session, facet, counts, selected)
        out.append((facet, FACET_LABELS[facet], values))
    return out


def _cheapest(snapshot, whoosh_query, first_tier, final: set[int], request: SearchRequest):
    """The query to score: just the all-words tier when its matches fill the requested page
    (they rank above every near miss, so the page is the same), else the whole query."""
    if first_tier is None or request.sort != "relevance":
        return whoosh_query
    wanted = request.page * request.per_page
    tier = final.intersection(snapshot.searcher.docs_for_query(first_tier))
    return first_tier if len(tier) >= wanted else whoosh_query


def _hits(session, snapshot, whoosh_query, final: set[int], request: SearchRequest) -> list[Hit]:
    if not final:
        return []
    start = (request.page - 1) * request.per_page
    options = SORT_OPTIONS.get(request.sort, {})
    results = snapshot.searcher.search(
        whoosh_query, filter=final, limit=start + request.per_page, optimize=True, **options
    )
    configure(results)
    page = results[start : start + request.per_page]
    ids = [int(hit["id"]) for hit in page]
    entries = load_entries(session, ids)
    hits = []
    for hit in page:
        entry = entries.get(int(hit["id"]))
        if entry is None or not _still_visible(entry, request):
            continue  # the index lagged behind a change; the database decides
        reused = hit.get("borrow_count") or 0
        hits.append(Hit(entry, whole(hit, "title"), snippets(hit, "body", top=2), reused))
    return hits


def _still_visible(entry: Entry, request: SearchRequest) -> bool:
    if entry.status == Status.ARCHIVED.value and not request.include_archived:
        return False
    return permissions.visible(entry, request.drafts_of)


def load_entries(session: Session, ids: Sequence[int]) -> dict[int, Entry]:
    """Entries by id, with what a result card shows loaded in the same round trip."""
    if not ids:
        return {}
    rows = session.scalars(
        select(Entry)
        .where(Entry.id.in_(ids))
        .options(selectinload(Entry.channels), selectinload(Entry.relevant_sectors))
    )
    return {entry.id: entry for entry in rows}


def _nearest(snapshot, session, request: SearchRequest, synonyms, suggestion) -> list[Hit]:
    """What to offer when nothing matched: the corrected query, or the query without
    filters."""
    if suggestion:
        retry = SearchRequest(suggestion, request.selected, per_page=5,
                              drafts_of=request.drafts_of)  # fmt: skip
    elif any(request.selected.values()) or request.borrowed_across:
        retry = SearchRequest(request.text, per_page=5, drafts_of=request.drafts_of)
    else:
        return []
    whoosh_query = build(bounded(synonyms.expand(parse(retry.text)))[0], Resolver(session))
    matched = set(snapshot.searcher.docs_for_query(whoosh_query))
    matched &= visible_docs(snapshot, False)
    for facet, values in retry.selected.items():
        if values:
            matched &= docs_with(snapshot, facet, values)
    return _hits(session, snapshot, whoosh_query, matched, retry)


# -- did you mean ---------------------------------------------------------------------------

_PLAIN_WORD = re.compile(r"(?<![\w:\-\"])([^\W\d_]{3,})(?![\w:])")
SUGGESTED_WORDS = 6  # unknown words looked up per query: each lookup walks the vocabulary


def suggest(snapshot: Snapshot, text: str, synonyms: Synonyms) -> str | None:
    """``text`` with unknown words replaced by the nearest known ones, or None."""
    reader = snapshot.searcher.reader()
    corrections: dict[str, str] = {}
    looked_up = 0
    outside_quotes = re.sub(r'"[^"]*"?', lambda m: " " * len(m.group()), text)
    for match in _PLAIN_WORD.finditer(outside_quotes):
        word = match.group(1).lower()
        folded = "".join(token.text for token in SPELLING_ANALYZER(word))
        if word in corrections or synonyms.group(word) or not folded:
            continue
        if reader.doc_frequency("spelling", folded):
            continue
        looked_up += 1
        if looked_up > SUGGESTED_WORDS:
            break
        # Whoosh ranks suggestions by frequency whatever their distance, so look one edit
        # away before two ("podcst" is "podcast", not the commoner "post").
        found = []
        for distance in (1, 2):
            # prefix=1: people rarely mistype the first letter, and without it Whoosh
            # compares against the whole vocabulary once the index has several segments.
            found = snapshot.searcher.suggest(
                "spelling", folded, limit=1, maxdist=distance, prefix=1
            )
            if found:
                break
        if found and found[0] != folded:
            corrections[word] = found[0]
    if not corrections:
        return None
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, corrections)) + r")\b", re.IGNORECASE)
    return pattern.sub(lambda m: corrections[m.group(1).lower()], text)
