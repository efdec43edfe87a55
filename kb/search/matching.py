"""Which saved searches an entry matches: for notifying the people who follow a search.

The entry is checked as it stands inside the transaction that changes it, before the index
has caught up, so it is indexed alone in memory and each distinct saved search is run against
it with exactly the rules of ``/search`` (every word, phrases, exclusions, synonyms, field
syntax, facets, "borrowed by other sectors"): a search follows its results, never its partial
matches. Nothing here reads or writes the index on disk.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode

from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from whoosh import query as Q
from whoosh.filedb.filestore import RamStorage

from kb.search.documents import ACROSS_SECTORS, load_documents
from kb.search.query import MAX_TERMS, Synonyms, bounded, build, parse, shorten
from kb.search.schema import FACETS, build_schema
from kb.search.service import Resolver

QUERY_MAX = 300


def saved_query(args: MultiDict) -> str:
    """The canonical query string of a search to follow: its words and filters, in a fixed
    order, without the page, sort or anything ``/search`` does not read."""
    kept = [("q", shorten(" ".join(args.get("q", "").split()), QUERY_MAX))]
    for facet in FACETS:
        kept += [(facet, v) for v in sorted({v.strip() for v in args.getlist(facet) if v.strip()})]
    if args.get("borrowed") == ACROSS_SECTORS:
        kept.append(("borrowed", ACROSS_SECTORS))
    return urlencode([(k, v) for k, v in kept if v])


def _query_for(text: str, session: Session, synonyms: Synonyms) -> Q.Query | None:
    args = MultiDict(parse_qsl(text))
    typed = shorten(args.get("q", ""), QUERY_MAX)
    clauses, _cut = bounded(synonyms.expand(parse(typed)), MAX_TERMS)
    words = build(clauses, Resolver(session)) if clauses or not args.get("q", "").strip() else None
    if words is None or words is Q.NullQuery:
        return None
    parts = [words]
    for facet in FACETS:
        values = args.getlist(facet)
        if values:
            parts.append(Q.Or([Q.Term(facet, v) for v in values]))
    if args.get("borrowed") == ACROSS_SECTORS:
        parts.append(Q.Term("reuse", ACROSS_SECTORS))
    return Q.And(parts) if len(parts) > 1 else parts[0]


def matching_searches(
    session: Session, entry_id: int, saved: Iterable[str], synonyms: Synonyms
) -> set[str]:
    """Those of the ``saved`` query strings whose results would include ``entry_id`` as the
    database holds it in ``session``'s transaction (a published entry, in the public index)."""
    saved = set(saved)
    if not saved:
        return set()
    document = load_documents(session.connection(), [entry_id]).get(entry_id)
    if document is None:
        return set()
    index = RamStorage().create_index(build_schema())
    writer = index.writer()
    writer.add_document(**document.fields)
    writer.commit()
    found = set()
    with index.searcher() as searcher:
        for text in saved:
            built = _query_for(text, session, synonyms)
            # docs_for_query is a generator, truthy even when it yields nothing.
            if built is not None and next(searcher.docs_for_query(built), None) is not None:
                found.add(text)
    return found
