"""Searching: a query, facet counts, highlighted hits and the rows behind them.

A result holds every word searched for. The total and every facet count are of results
only; entries holding some of the words ("partial matches") are listed below the results,
without a count, only when the results do not fill a page.

Facets follow the listings' rules: several values in one facet widen (OR), different facets
narrow (AND), and each facet's counts ignore that facet's own choice. Matches and counts are
bitsets from postings kept per segment (``postings.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session
from whoosh.collectors import FilterCollector, TopCollector
from whoosh.idsets import DocIdSet
from whoosh.query import NullQuery
from whoosh.sorting import FieldFacet, MultiFacet, ScoreFacet

from kb import permissions
from kb.models import TERM_MODELS, Entry, Kind, Organisation, Status
from kb.search.documents import ACROSS_SECTORS
from kb.search.highlights import SNIPPET_FROM_FIRST_CHARS, Snippet, query_words, snippets, whole
from kb.search.index import SearchIndex
from kb.search.postings import matching, members, shown, subsearchers, to_bits
from kb.search.query import Synonyms, bounded, build, near_misses, parse
from kb.search.readers import Snapshot
from kb.search.rows import channel_names, load_entries
from kb.search.schema import FACETS
from kb.search.scoring import top
from kb.search.spelling import suggest
from kb.vocabulary import FACET_LABELS, FacetValue, Paginated, every_facet_values, sorts

SORTS = sorts("relevance", "newest", "most-borrowed")
# The busiest organisations offered as filters unless a reader asks for every one: a list of
# hundreds is no use to read, to tab through, or to send.
ORGANISATIONS_SHOWN = 10
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
    every_organisation: bool = False  # offer every organisation as a filter, not the busiest


@dataclass(frozen=True)
class Hit:
    entry: Entry
    title: Snippet | None  # the title with matches marked, if it matched
    snippets: tuple[Snippet, ...]
    reused: int = 0  # public copies plus adoptions, as indexed
    channels: tuple[str, ...] = ()  # their names (the entry's own are not loaded)


@dataclass
class SearchResults(Paginated):
    request: SearchRequest
    hits: list[Hit]
    total: int
    facets: list[tuple[str, str, list[FacetValue]]]
    total_without_filters: int
    suggestion: str | None = None
    nearest: list[Hit] = field(default_factory=list)
    partial: list[Hit] = field(default_factory=list)  # holding some of the words, not all
    shortened: bool = False  # the query had more words than one search may cost
    organisations: int = 0  # organisations with results
    more_organisations: int = 0  # of which not offered as filters (see ORGANISATIONS_SHOWN)
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


def keyword_bits(snapshot: Snapshot, fieldname: str) -> dict[str, int]:
    """For each value of a keyword field, the documents holding it, as a bitset.

    Built per segment and kept across searchers (segments never change), so a save costs
    reading only its own small segment. Documents deleted since are harmless here: every
    count and page intersects these sets with the query's live matches."""
    cache = snapshot.cache.setdefault("keywords", {})
    found = cache.get(fieldname)
    if found is None:
        found = {}
        for sub, offset in subsearchers(snapshot.searcher):
            reader = sub.reader()
            if not reader.doc_count_all():
                continue
            for value, bits in _segment_keywords(snapshot, reader, fieldname).items():
                found[value] = found.get(value, 0) | bits << offset
        cache[fieldname] = found
    return found


def _segment_keywords(snapshot: Snapshot, reader, fieldname: str) -> dict[str, int]:
    key = (reader.segment().segment_id(), "keywords", fieldname)
    found = snapshot.segments.get(key)
    if found is None:
        found = {
            value.decode() if isinstance(value, bytes) else value: to_bits(
                reader.postings(fieldname, value).all_ids()
            )
            for value in reader.lexicon(fieldname)
        }
        size = sum(64 + bits.bit_length() // 8 for bits in found.values())
        snapshot.segments.put(key, found, size)
    return found


def bits_with(snapshot: Snapshot, fieldname: str, values: Sequence[str]) -> int:
    found = keyword_bits(snapshot, fieldname)
    bits = 0
    for value in values:
        bits |= found.get(value, 0)
    return bits


def visible_bits(snapshot: Snapshot, include_archived: bool) -> int:
    """Published entries, plus archived ones if asked for, plus the drafts in the snapshot,
    which holds only those of the reader's own organisation (see ``readers.py``)."""
    statuses = [Status.PUBLISHED.value, Status.DRAFT.value]
    return bits_with(snapshot, "status", statuses + [Status.ARCHIVED.value] * include_archived)


def docs_with(snapshot: Snapshot, fieldname: str, values: Sequence[str]) -> set[int]:
    return set(members(bits_with(snapshot, fieldname, values)))


def visible_docs(snapshot: Snapshot, include_archived: bool) -> set[int]:
    return set(members(visible_bits(snapshot, include_archived)))


class Allowed(DocIdSet):
    """A bitset as Whoosh's filter of which documents a search may return."""

    def __init__(self, bits: int):
        self.bits = bits

    def __contains__(self, docnum: int) -> bool:
        return bool(self.bits >> docnum & 1)

    def __len__(self) -> int:
        return self.bits.bit_count()

    def __iter__(self):
        return iter(members(self.bits))


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
    resolver = Resolver(session)
    clauses, shortened = bounded(synonyms.expand(parse(request.text)))
    # Text with nothing searchable in it (punctuation, emoji) matches nothing, like "the".
    whoosh_query = build(clauses, resolver) if clauses or not request.text.strip() else NullQuery
    visible = visible_bits(snapshot, request.include_archived)
    matched = matching(snapshot.segments, snapshot.searcher, whoosh_query) & visible
    chosen = {
        facet: bits_with(snapshot, facet, values)
        for facet, values in request.selected.items()
        if values
    }
    if request.borrowed_across:
        chosen["reuse"] = bits_with(snapshot, "reuse", [ACROSS_SECTORS])
    final = matched
    for bits in chosen.values():
        final &= bits
    total = final.bit_count()
    facets, organisations, shown = _facets(session, snapshot, matched, chosen, request)
    found, partial = _found(snapshot, whoosh_query, final, request), []
    near_query = near_misses(clauses, resolver)
    if near_query is not None and total < request.per_page and request.page == 1:
        near = matching(snapshot.segments, snapshot.searcher, near_query) & visible & ~final
        for bits in chosen.values():
            near &= bits
        room = replace(request, per_page=request.per_page - len(found))
        partial = _found(snapshot, near_query, near, room)
    ids = [f.id for f in found + partial]  # one round trip for both
    rows = load_entries(session, ids, with_channels=False), channel_names(session, ids)
    results = SearchResults(request, _hits(found, rows, request), total, facets,
                            matched.bit_count(), shortened=shortened,
                            organisations=organisations,
                            more_organisations=organisations - shown,
                            generation=snapshot.generation)  # fmt: skip
    results.partial = _hits(partial, rows, request)
    results.suggestion = suggest(snapshot, request.text, synonyms)
    results.unknown = _unknown_filters(session, clauses, resolver)
    if not final and not results.partial:
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


def _facets(session, snapshot, matched: int, chosen: dict[str, int], request) -> tuple:
    """Each facet's values with their counts, how many organisations have results and how
    many are offered: a long list of organisations is cut to the busiest, plus any chosen."""
    counts: dict[str, dict[str, int]] = {}
    for facet in FACETS:
        pool = matched
        for name, bits in chosen.items():
            if name != facet:
                pool &= bits
        counts[facet] = {}
        if pool:
            for value, bits in keyword_bits(snapshot, facet).items():
                if n := (pool & bits).bit_count():
                    counts[facet][value] = n
    values = every_facet_values(session, counts, request.selected)
    offered = values["organisation"]
    if not request.every_organisation:
        values["organisation"] = [v for n, v in enumerate(offered) if n < ORGANISATIONS_SHOWN
                                  or v.selected]  # fmt: skip
    facets = [(facet, FACET_LABELS[facet], values[facet]) for facet in FACETS]
    return facets, len(offered), len(values["organisation"])


class Found(NamedTuple):
    """The index's side of a hit: the entry, and what is shown of it."""

    id: int
    title: Snippet | None
    snippets: tuple[Snippet, ...]
    reused: int


def _found(snapshot, whoosh_query, final: int, request: SearchRequest) -> list[Found]:
    """The page of ``final``'s documents ``request`` asks for, in its order."""
    if not final or request.per_page < 1:
        return []
    start = (request.page - 1) * request.per_page
    limit = start + request.per_page
    if request.sort == "relevance":
        results = top(snapshot, whoosh_query, final, limit) or _top_by_whoosh(
            snapshot.searcher, whoosh_query, final, limit
        )
    else:
        results = snapshot.searcher.search(
            whoosh_query, filter=Allowed(final), limit=limit, **SORT_OPTIONS[request.sort]
        )
    title_words, body_words = query_words(results, "title"), query_words(results, "body")
    found = []
    for hit in results[start : start + request.per_page]:
        entry_id, title, body, reused = shown(snapshot.segments, snapshot.searcher, hit.docnum,
                                              SNIPPET_FROM_FIRST_CHARS)  # fmt: skip
        found.append(Found(entry_id, whole(title, title_words), snippets(body, body_words, 2),
                           reused))  # fmt: skip
    return found


def _hits(found: list[Found], rows: tuple[dict, dict], request: SearchRequest) -> list[Hit]:
    """The hits whose entries the database still shows, with ``rows``: (the entries by id,
    their channels' names by id)."""
    entries, channels = rows
    hits = []
    for item in found:
        entry = entries.get(item.id)
        if entry is None or not _still_visible(entry, request):
            continue  # the index lagged behind a change; the database decides
        hits.append(Hit(entry, item.title, item.snippets, item.reused, channels.get(item.id, ())))
    return hits


def _top_by_whoosh(searcher, whoosh_query, final: int, limit: int):
    """Whoosh's own top ``limit``, without its shortcut of dropping matchers whose best score
    falls below the page's lowest: that lowest is lifted for reuse, their scores are not yet,
    so it dropped entries the lift would have brought onto the page."""
    collector = FilterCollector(TopCollector(limit, replace=0), allow=Allowed(final))
    searcher.search_with_collector(whoosh_query, collector)
    return collector.results()


def _still_visible(entry: Entry, request: SearchRequest) -> bool:
    if entry.status == Status.ARCHIVED.value and not request.include_archived:
        return False
    return permissions.visible(entry, request.drafts_of)


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
    matched = matching(snapshot.segments, snapshot.searcher, whoosh_query)
    matched &= visible_bits(snapshot, False)
    for facet, values in retry.selected.items():
        if values:
            matched &= bits_with(snapshot, facet, values)
    found = _found(snapshot, whoosh_query, matched, retry)
    ids = [f.id for f in found]
    return _hits(found, (load_entries(session, ids, with_channels=False),
                         channel_names(session, ids)), retry)  # fmt: skip
