"""Listing pages: a query string becomes an ``EntryFilter``, a page of entries and facet values.

Unknown slugs, kinds, sorts or page numbers are a 404: a filtered list that cannot exist is a
page that does not exist, not an empty one. The facets, sorts and pages speak the vocabulary
search speaks too (``kb/vocabulary.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound

from kb import vocabulary
from kb.entries.queries import DEFAULT_SORT, SORTS, EntryFilter, Page, facet_counts, list_entries
from kb.models import TERM_MODELS, Sector
from kb.vocabulary import FACET_LABELS, FacetValue, PastTheLastPage


@dataclass(frozen=True)
class Listing:
    filter: EntryFilter
    selected: dict[str, tuple[str, ...]]  # facet -> chosen values (slugs, or kind values)
    sort: str
    page: int


def parse_listing(session: Session, args: MultiDict, base: EntryFilter, facets) -> Listing:
    """Read the facets a page offers, ``sort`` and ``page`` from ``args`` on top of ``base``."""
    changes: dict[str, tuple] = {}
    selected: dict[str, tuple[str, ...]] = {}
    for facet in facets:
        values = vocabulary.query_values(args, facet)
        if not vocabulary.known(session, facet, values):
            raise NotFound()
        selected[facet] = values
        if facet in {"kind", "origin"}:
            changes[facet] = values
        elif values:
            model = TERM_MODELS[facet]
            changes[facet] = tuple(session.scalars(select(model.id).where(model.slug.in_(values))))
    sort = args.get("sort", DEFAULT_SORT) or DEFAULT_SORT
    if sort not in SORTS:
        raise NotFound()
    page = vocabulary.page_number(args.get("page"))
    return Listing(replace(base, **changes), selected, sort, page)


def facet_options(session: Session, listing: Listing, facet: str) -> list[FacetValue]:
    """Every value of ``facet`` with entries, and each chosen one, with its count."""
    counts = facet_counts(session, listing.filter, facet)
    if facet in TERM_MODELS:
        model = TERM_MODELS[facet]
        slugs = dict(session.execute(select(model.id, model.slug)).all())
        counts = {slugs[key]: count for key, count in counts.items()}
    return vocabulary.facet_values(session, facet, counts, listing.selected.get(facet, ()))


@dataclass(frozen=True)
class ListingPage:
    """Everything ``entries/_listing.html`` shows: the choices, the page, the facet values."""

    listing: Listing
    page: Page
    facets: list[tuple[str, str, list[FacetValue]]]
    sorts: dict[str, str]
    sector: Sector | None = None  # on a sector's page: cards say whether entries come from it


def load_listing(
    session: Session,
    args: MultiDict,
    base: EntryFilter,
    facets,
    *,
    per_page: int,
    sector: Sector | None = None,
) -> ListingPage:
    """Parse ``args``, fetch the page and the facet values; 404 past the last page."""
    listing = parse_listing(session, args, base, facets)
    page = list_entries(session, listing.filter, sort=listing.sort, page=listing.page,
                        per_page=per_page)  # fmt: skip
    if listing.page > page.pages:
        raise PastTheLastPage(page.pages)
    options = [(facet, FACET_LABELS[facet], facet_options(session, listing, facet))
               for facet in facets]  # fmt: skip
    return ListingPage(listing, page, options, SORTS, sector)
