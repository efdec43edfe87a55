"""Finding entries: filters, facet counts, sorting and pages, shared by every listing.

Within one facet several values widen the list (OR); different facets narrow it (AND). A
sector matches an entry that originates in it or is marked relevant to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import ColumnElement, Select, and_, func, select, union
from sqlalchemy.orm import Session, selectinload

from kb.models import Entry, Status, entry_channels, entry_sectors, entry_topics
from kb.vocabulary import ALSO_RELEVANT, FROM_THIS_SECTOR, Paginated, sorts

SORTS = sorts("newest", "updated", "title")
DEFAULT_SORT = "newest"


@dataclass(frozen=True)
class EntryFilter:
    """What a listing shows. Facet fields hold ids (kinds hold their string values)."""

    sector: tuple[int, ...] = ()
    channel: tuple[int, ...] = ()
    topic: tuple[int, ...] = ()
    kind: tuple[str, ...] = ()
    # On a sector's page: "this-sector" (entries from it), "also-relevant" (entries from other
    # sectors marked relevant to it), or both; see kb/vocabulary.py ORIGINS.
    origin: tuple[str, ...] = ()
    organisation_id: int | None = None
    statuses: tuple[str, ...] = field(default=(Status.PUBLISHED.value,))

    def without(self, facet: str) -> EntryFilter:
        return replace(self, **{facet: ()})


@dataclass(frozen=True)
class Page(Paginated):
    items: Sequence[Entry]
    total: int
    number: int
    per_page: int


def sector_links():
    """(entry_id, sector_id) for every sector an entry belongs to: origin and relevant."""
    return union(
        select(Entry.id.label("entry_id"), Entry.origin_sector_id.label("sector_id")),
        select(entry_sectors.c.entry_id, entry_sectors.c.sector_id),
    ).subquery("sector_links")


def _conditions(f: EntryFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Entry.status.in_(f.statuses)]
    if f.organisation_id is not None:
        conditions.append(Entry.organisation_id == f.organisation_id)
    if f.kind:
        conditions.append(Entry.kind.in_(f.kind))
    if f.sector:
        links = sector_links()
        conditions.append(
            Entry.id.in_(select(links.c.entry_id).where(links.c.sector_id.in_(f.sector)))
        )
        if len(set(f.origin)) == 1:  # one of the two chosen; both (or neither) is everything
            own = Entry.origin_sector_id.in_(f.sector)
            conditions.append(own if f.origin[0] == FROM_THIS_SECTOR else ~own)
    for ids, table, column in (
        (f.channel, entry_channels, "channel_id"),
        (f.topic, entry_topics, "topic_id"),
    ):
        if ids:
            conditions.append(
                Entry.id.in_(select(table.c.entry_id).where(table.c[column].in_(ids)))
            )
    return conditions


def matching(f: EntryFilter) -> Select:
    """A SELECT of the entries that pass ``f``, unordered."""
    return select(Entry).where(and_(*_conditions(f)))


def _order(sort: str):
    if sort == "title":
        return (func.lower(Entry.title), Entry.id)
    if sort == "updated":
        return (Entry.updated_at.desc(), Entry.id.desc())
    # Newest first by when entries were published (a draft, never published, by its creation).
    return (func.coalesce(Entry.published_at, Entry.created_at).desc(), Entry.id.desc())


def list_entries(
    session: Session, f: EntryFilter, *, sort: str = DEFAULT_SORT, page: int = 1, per_page: int = 20
) -> Page:
    """One page of entries passing ``f``, with the tags each card shows loaded up front."""
    total = session.scalar(select(func.count()).select_from(matching(f).subquery())) or 0
    statement = (
        matching(f)
        .order_by(*_order(sort))
        .limit(per_page)
        .offset((page - 1) * per_page)
        .options(selectinload(Entry.channels), selectinload(Entry.relevant_sectors))
    )
    return Page(session.scalars(statement).all(), total, page, per_page)


def facet_counts(session: Session, f: EntryFilter, facet: str) -> dict:
    """For each value of ``facet``, how many entries match ``f`` with that facet's own choice
    replaced by just that value. Keys are ids (kind values for ``kind``)."""
    base = matching(f.without(facet)).with_only_columns(Entry.id).subquery()
    if facet == "origin":
        own = Entry.origin_sector_id.in_(f.sector)
        statement = select(own, func.count()).where(Entry.id.in_(select(base.c.id))).group_by(own)
        found = dict(session.execute(statement).all())
        return {FROM_THIS_SECTOR: found.get(True, 0), ALSO_RELEVANT: found.get(False, 0)}
    if facet == "kind":
        statement = (
            select(Entry.kind, func.count())
            .where(Entry.id.in_(select(base.c.id)))
            .group_by(Entry.kind)
        )
    else:
        if facet == "sector":
            links = sector_links()
            key, entry_key = links.c.sector_id, links.c.entry_id
        else:
            table = entry_channels if facet == "channel" else entry_topics
            key, entry_key = table.c[f"{facet}_id"], table.c.entry_id
        statement = (
            select(key, func.count(func.distinct(entry_key)))
            .where(entry_key.in_(select(base.c.id)))
            .group_by(key)
        )
    return {value: count for value, count in session.execute(statement)}


def sector_channel_grid(session: Session) -> dict[tuple[int, int], int]:
    """Published entries per (sector id, channel id): the same counts the sector list shows."""
    links = sector_links()
    statement = (
        select(links.c.sector_id, entry_channels.c.channel_id, func.count(func.distinct(Entry.id)))
        .join(entry_channels, entry_channels.c.entry_id == links.c.entry_id)
        .join(Entry, Entry.id == links.c.entry_id)
        .where(Entry.status == Status.PUBLISHED.value)
        .group_by(links.c.sector_id, entry_channels.c.channel_id)
    )
    return {(sector, channel): count for sector, channel, count in session.execute(statement)}


def entries_from_each_sector(session: Session) -> dict[int, int]:
    """Published entries per origin sector id: the "from this sector" part of a sector's count
    (the rest of it are entries from other sectors marked relevant to it)."""
    statement = (
        select(Entry.origin_sector_id, func.count())
        .where(Entry.status == Status.PUBLISHED.value)
        .group_by(Entry.origin_sector_id)
    )
    return dict(session.execute(statement).all())


def catalogue_totals(session: Session) -> dict[str, int]:
    """What the home page counts: published entries, and the organisations and sectors they
    come from."""
    published = Entry.status == Status.PUBLISHED.value
    row = session.execute(
        select(
            func.count(Entry.id),
            func.count(Entry.organisation_id.distinct()),
            func.count(Entry.origin_sector_id.distinct()),
        ).where(published)
    ).one()
    return {"entries": row[0], "organisations": row[1], "sectors": row[2]}


def recent_entries(session: Session, limit: int = 6) -> Sequence[Entry]:
    return list_entries(session, EntryFilter(), sort="updated", per_page=limit).items


def entries_per_organisation(session: Session, f: EntryFilter = EntryFilter()) -> dict[int, int]:
    """How many entries passing ``f`` (by default: published) each organisation has."""
    statement = (
        select(Entry.organisation_id, func.count())
        .where(and_(*_conditions(f)))
        .group_by(Entry.organisation_id)
    )
    return dict(session.execute(statement).all())


def organisation_drafts(session: Session, organisation_id: int) -> Sequence[Entry]:
    """An organisation's unpublished drafts, most recently changed first."""
    f = EntryFilter(organisation_id=organisation_id, statuses=(Status.DRAFT.value,))
    return session.scalars(matching(f).order_by(Entry.updated_at.desc())).all()
