"""Atom feeds: recent changes, each sector, channel, topic and organisation listing (with the
same filters as the page), any search, and an entry's history.

A feed holds what an anonymous reader may see, never a draft: the first 50 entries its page
lists, newest first. Conditional requests get ``304 Not Modified``.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator
from flask import abort, make_response, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from kb.db import db
from kb.entries.listing import load_listing
from kb.entries.queries import EntryFilter, list_entries
from kb.feeds import bp
from kb.models import Channel, Entry, Organisation, Revision, Sector, Topic
from kb.permissions import PUBLIC_STATUSES
from kb.search import get_index, get_synonyms
from kb.search.matching import saved_query
from kb.search.service import search
from kb.search.views import parse_request
from kb.vocabulary import LISTING_FACETS

ITEMS = 50
SCOPES = {"sectors": (Sector, "sector"), "channels": (Channel, "channel"),
          "topics": (Topic, "topic")}  # fmt: skip
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _newest(args: MultiDict) -> MultiDict:
    """The page's own query string, sorted newest first, first page only."""
    kept = MultiDict([(k, v) for k, v in args.items(multi=True) if k not in {"sort", "page"}])
    kept["sort"] = "newest"
    return kept


def _entry_item(feed: FeedGenerator, entry: Entry, *, summary: str | None = None) -> None:
    item = feed.add_entry(order="append")
    link = url_for("entries.show", slug=entry.slug, _external=True)
    item.id(link)
    item.title(entry.title)
    item.link(href=link)
    item.updated(entry.updated_at)
    item.published(entry.published_at or entry.created_at)
    item.summary(summary if summary is not None else entry.summary)
    item.author({"name": entry.organisation.name})
    terms = [
        (entry.origin_sector, "sector"),
        *((sector, "sector") for sector in entry.relevant_sectors),
        *((channel, "channel") for channel in entry.channels),
        *((topic, "topic") for topic in entry.topics),
    ]
    seen = set()
    for term, kind in terms:
        if (kind, term.slug) not in seen:
            seen.add((kind, term.slug))
            item.category(term=term.slug, label=f"{kind.title()}: {term.name}",
                          scheme=url_for("browse.home", _external=True) + f"{kind}s")  # fmt: skip


def _respond(title: str, page_url: str, items: list, add, stamps: list[tuple]):
    """The feed as Atom, with an ETag and Last-Modified from what it holds."""
    feed = FeedGenerator()
    self_url = request.url
    feed.id(self_url)
    feed.title(f"{title} – Span")
    feed.link(href=page_url, rel="alternate")
    feed.link(href=self_url, rel="self")
    feed.language("en-GB")
    feed.author({"name": "Span"})
    feed.subtitle("Case studies and guidance shared between public bodies")
    updated = max((stamp[-1] for stamp in stamps), default=EPOCH)
    feed.updated(updated)
    for item in items:
        add(feed, item)
    response = make_response(feed.atom_str(pretty=True))
    response.mimetype = "application/atom+xml"
    digest = hashlib.sha256(repr((self_url, stamps)).encode()).hexdigest()[:32]
    response.set_etag(digest)
    response.last_modified = updated
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response.make_conditional(request)


def _entries_feed(title: str, page_url: str, entries: list[Entry]):
    _load_terms(entries)
    stamps = [(e.id, e.current_revision_number, e.updated_at) for e in entries]
    return _respond(title, page_url, entries, lambda f, e: _entry_item(f, e), stamps)


def _load_terms(entries: list[Entry]) -> None:
    """Each entry's sectors, channels and topics (its feed categories) in three queries, not
    three per entry."""
    if entries:
        db.session.scalars(
            select(Entry).where(Entry.id.in_([e.id for e in entries])).options(
                selectinload(Entry.relevant_sectors), selectinload(Entry.channels),
                selectinload(Entry.topics),
            )
        ).all()  # fmt: skip


@bp.get("/feeds/recent.atom")
def recent():
    entries = list_entries(db.session, EntryFilter(), sort="updated", per_page=ITEMS).items
    return _entries_feed("Recently published or revised", url_for("browse.home", _external=True),
                         list(entries))  # fmt: skip


@bp.get("/feeds/<scope>/<slug>.atom")
def listing(scope: str, slug: str):
    if scope == "orgs":
        term = db.session.scalar(select(Organisation).where(Organisation.slug == slug[:200]))
        if term is None:
            abort(404)
        base, kind, page = EntryFilter(organisation_id=term.id), "organisation", "orgs.show"
    elif scope in SCOPES:
        model, name = SCOPES[scope]
        term = db.session.scalar(select(model).where(model.slug == slug[:200]))
        if term is None:
            abort(404)
        base, kind, page = EntryFilter(**{name: (term.id,)}), name, f"browse.{name}"
    else:
        abort(404)
    facets = LISTING_FACETS[kind]
    results = load_listing(db.session, _newest(request.args), base, facets, per_page=ITEMS)
    page_url = url_for(page, slug=term.slug, _external=True)
    return _entries_feed(term.name, page_url, list(results.page.items))


@bp.get("/search.atom")
def search_feed():
    """Exactly the query string of ``/search``; what an anonymous reader finds, newest first."""
    parsed, _shortened = parse_request(_newest(request.args), None)
    search_request = replace(parsed, per_page=ITEMS, page=1, drafts_of=None)
    index = get_index()
    index.catch_up(timeout=0)
    found = search(index, db.session, search_request, get_synonyms())
    entries = [hit.entry for hit in found.hits]
    words = search_request.text
    query = saved_query(request.args)  # only what /search reads, never raw arguments
    page_url = url_for("search.results", _external=True) + (f"?{query}" if query else "")
    return _entries_feed(f"Search: {words}" if words else "Search", page_url, entries)


@bp.get("/entries/<slug>/history.atom")
def history(slug: str):
    entry = db.session.scalar(select(Entry).where(Entry.slug == slug[:300]))
    if entry is None or entry.status not in PUBLIC_STATUSES:
        abort(404)
    revisions = db.session.scalars(
        select(Revision).where(Revision.entry_id == entry.id)
        .order_by(Revision.number.desc()).limit(ITEMS)
    ).all()  # fmt: skip

    def add(feed: FeedGenerator, revision: Revision) -> None:
        item = feed.add_entry(order="append")
        link = url_for("entries.revision", slug=entry.slug, number=revision.number,
                       _external=True)  # fmt: skip
        item.id(link)
        item.title(f"Revision {revision.number}: {revision.title}")
        item.link(href=link)
        item.updated(revision.created_at)
        item.published(revision.created_at)
        item.summary(revision.edit_summary or "No edit summary.")
        item.author({"name": entry.organisation.name})

    stamps = [(r.number, r.created_at) for r in revisions]
    page_url = url_for("entries.history", slug=entry.slug, _external=True)
    return _respond(f"History of {entry.title}", page_url, list(revisions), add, stamps)
