"""What listings and search share: facets (their names, labels and values), sort names, page
numbers and pagination. Defined once here, so a sector page and a search say the same things
the same way."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import literal, select, union_all
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound

from kb.models import TERM_MODELS, Kind, Organisation

STORED = ("sector", "channel", "topic", "organisation")
FACET_LABELS = {
    "origin": "Origin", "sector": "Sector", "channel": "Channel", "topic": "Topic",
    "kind": "Kind", "organisation": "Organisation",
}  # fmt: skip
# A sector's page lists entries from the sector and entries other sectors marked relevant to
# it; the "origin" facet tells them apart.
FROM_THIS_SECTOR, ALSO_RELEVANT = "this-sector", "also-relevant"
ORIGINS = {FROM_THIS_SECTOR: "From this sector", ALSO_RELEVANT: "Also relevant"}
# The facets each kind of listing page offers (its feed reads the same filters).
LISTING_FACETS = {
    "sector": ("origin", "channel", "topic", "kind"),
    "channel": ("sector", "topic", "kind"),
    "topic": ("sector", "channel", "kind"),
    "organisation": ("channel", "topic", "kind"),
}
SORT_LABELS = {
    "relevance": "Relevance",
    "newest": "Newest first",
    "updated": "Recently updated",
    "title": "Title A to Z",
    "most-borrowed": "Most borrowed",
}
PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,5}")  # ASCII digits only; "²".isdigit() is True


def sorts(*names: str) -> dict[str, str]:
    """The sorts a page offers, with their labels, in the order given."""
    return {name: SORT_LABELS[name] for name in names}


def query_values(args: MultiDict, name: str) -> tuple[str, ...]:
    """The distinct, non-blank values of a repeated query parameter, in the order given."""
    return tuple(dict.fromkeys(v.strip() for v in args.getlist(name) if v.strip()))


def page_number(value: str | None) -> int:
    """A page number from the query string; 404 unless it is a plain positive number."""
    value = "1" if value is None else value
    if not PAGE_NUMBER.fullmatch(value):
        raise NotFound()
    return int(value)


class PastTheLastPage(NotFound):
    """A page number beyond the last page: the page says how many there are."""

    def __init__(self, pages: int) -> None:
        super().__init__()
        self.pages = pages


class Paginated:
    """Pages of ``per_page`` items out of ``total``, at page ``number``."""

    total: int
    number: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


@dataclass(frozen=True)
class FacetValue:
    """One value a facet offers: its slug, its label, how many entries choosing it gives."""

    value: str
    label: str
    count: int
    selected: bool


def _model(facet: str):
    return TERM_MODELS.get(facet, Organisation)


def known(session: Session, facet: str, values: Collection[str]) -> bool:
    """Whether every one of ``values`` names a value of ``facet``."""
    if not values:
        return True
    if facet == "kind":
        return all(value in {kind.value for kind in Kind} for value in values)
    if facet == "origin":
        return all(value in ORIGINS for value in values)
    stored = _stored(session)[facet]
    return all(value in stored for value in values)


def labels(session: Session, facet: str, values: Iterable[str]) -> list[tuple[str, str]]:
    """(value, label) for ``values``, in the vocabulary's curated order (organisations by
    name)."""
    values = set(values)
    if not values:
        return []
    if facet == "kind":
        return [(kind.value, kind.label) for kind in Kind if kind.value in values]
    if facet == "origin":
        return [(value, label) for value, label in ORIGINS.items() if value in values]
    stored = _stored(session)[facet]
    found = sorted((stored[value], value) for value in values if value in stored)
    return [(value, name) for (_position, name), value in found]


def facet_values(
    session: Session, facet: str, counts: dict[str, int], chosen: Collection[str]
) -> list[FacetValue]:
    """The values of ``facet`` worth offering: each with entries (``counts``, by slug) and each
    already chosen, so a reader is never offered a filter that leads nowhere. Organisations
    come busiest first."""
    return every_facet_values(session, {facet: counts}, {facet: chosen})[facet]


def every_facet_values(
    session: Session, counts: dict[str, dict[str, int]], chosen: dict[str, Collection[str]]
) -> dict[str, list[FacetValue]]:
    """``facet_values`` for several facets (``counts`` and ``chosen`` by facet), their labels
    read in one query."""
    wanted = {
        facet: {v for v, n in facet_counts.items() if n} | {*chosen.get(facet, ())}
        for facet, facet_counts in counts.items()
    }
    found = {}
    for facet, labelled in _labels_of(session, wanted).items():
        values = [
            FacetValue(value, label, counts[facet].get(value, 0), value in chosen.get(facet, ()))
            for value, label in labelled
        ]
        if facet == "organisation":
            values.sort(key=lambda v: (-v.count, v.label.lower()))
        found[facet] = values
    return found


def _labels_of(session: Session, wanted: dict[str, set[str]]) -> dict[str, list[tuple[str, str]]]:
    """``labels`` for each facet's ``wanted`` values."""
    return {facet: labels(session, facet, values) for facet, values in wanted.items()}


def _stored(session: Session) -> dict[str, dict[str, tuple[int, str]]]:
    """Each stored vocabulary (sectors, channels, topics, organisations) as slug -> (position,
    name), read in one query and kept until the catalogue's version moves (adding or renaming
    any of them moves it)."""
    from kb.caching import versions  # it imports the search package, which imports this

    return versions.kept(session, "vocabularies", lambda: _read_stored(session))


def _read_stored(session: Session) -> dict[str, dict[str, tuple[int, str]]]:
    stored: dict[str, dict[str, tuple[int, str]]] = {facet: {} for facet in STORED}
    queries = [
        select(
            literal(facet),
            model.slug,
            model.name,
            model.position if facet in TERM_MODELS else literal(0),
        )  # fmt: skip
        for facet, model in ((facet, _model(facet)) for facet in STORED)
    ]
    for facet, slug, name, position in session.execute(union_all(*queries)):
        stored[facet][slug] = (position, name)
    return stored
