"""Listing pages: a query string becomes an ``EntryFilter``, a page of entries and facet options.

Unknown slugs, kinds, sorts or page numbers are a 404: a filtered list that cannot exist is a
page that does not exist, not an empty one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound

from kb.entries.queries import DEFAULT_SORT, SORTS, EntryFilter, Page, facet_counts, list_entries
from kb.models import Channel, Kind, Sector, Topic

PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,5}")  # ASCII digits only; "²".isdigit() is True
TERM_MODELS = {"sector": Sector, "channel": Channel, "topic": Topic}
FACET_LABELS = {"sector": "Sector", "channel": "Channel", "topic": "Topic", "kind": "Kind"}


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    count: int
    selected: bool


@dataclass(frozen=True)
class Listing:
    filter: EntryFilter
    selected: dict[str, list]  # facet -> chosen terms (Kind members for "kind")
    sort: str
    page: int


def _values(args: MultiDict, name: str) -> list[str]:
    seen: dict[str, None] = {}
    for value in args.getlist(name):
        if value.strip():
            seen.setdefault(value.strip(), None)
    return list(seen)


def parse_listing(session: Session, args: MultiDict, base: EntryFilter, facets) -> Listing:
    """Read the facets a page offers, ``sort`` and ``page`` from ``args`` on top of ``base``."""
    changes: dict[str, tuple] = {}
    selected: dict[str, list] = {}
    for facet in facets:
        values = _values(args, facet)
        if facet == "kind":
            try:
                kinds = [Kind(value) for value in values]
            except ValueError:
                raise NotFound() from None
            selected[facet] = kinds
            changes[facet] = tuple(kind.value for kind in kinds)
            continue
        model = TERM_MODELS[facet]
        terms = session.scalars(select(model).where(model.slug.in_(values))).all() if values else []
        if len(terms) != len(values):
            raise NotFound()
        selected[facet] = sorted(terms, key=lambda term: term.position)
        changes[facet] = tuple(term.id for term in terms)
    sort = args.get("sort", DEFAULT_SORT) or DEFAULT_SORT
    if sort not in SORTS:
        raise NotFound()
    page_arg = args.get("page", "1")
    if not PAGE_NUMBER.fullmatch(page_arg):
        raise NotFound()
    return Listing(replace(base, **changes), selected, sort, int(page_arg))


def facet_options(session: Session, listing: Listing, facet: str) -> list[Option]:
    """Every value of ``facet`` with its count; values with no entries are left out unless
    chosen, so a reader is never offered a filter that leads nowhere."""
    counts = facet_counts(session, listing.filter, facet)
    chosen = listing.selected.get(facet, [])
    options = []
    if facet == "kind":
        for kind in Kind:
            count = counts.get(kind.value, 0)
            if count or kind in chosen:
                options.append(Option(kind.value, kind.label, count, kind in chosen))
        return options
    model = TERM_MODELS[facet]
    chosen_ids = {term.id for term in chosen}
    for term in session.scalars(select(model).order_by(model.position)):
        count = counts.get(term.id, 0)
        if count or term.id in chosen_ids:
            options.append(Option(term.slug, term.name, count, term.id in chosen_ids))
    return options


@dataclass(frozen=True)
class ListingPage:
    """Everything ``entries/_listing.html`` shows: the choices, the page, the facet options."""

    listing: Listing
    page: Page
    facets: list[tuple[str, str, list[Option]]]
    sorts: dict[str, str]


def load_listing(
    session: Session, args: MultiDict, base: EntryFilter, facets, *, per_page: int
) -> ListingPage:
    """Parse ``args``, fetch the page and the facet options; 404 past the last page."""
    listing = parse_listing(session, args, base, facets)
    page = list_entries(session, listing.filter, sort=listing.sort, page=listing.page,
                        per_page=per_page)  # fmt: skip
    if listing.page > page.pages:
        raise NotFound()
    options = [(facet, FACET_LABELS[facet], facet_options(session, listing, facet))
               for facet in facets]  # fmt: skip
    return ListingPage(listing, page, options, SORTS)
