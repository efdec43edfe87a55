"""Who borrowed what from whom: a copy's ancestors, an entry's family tree, and reuse counts.

A copy counts as reuse once the public can see it (published or archived); drafts are their
organisation's business. Adoptions ("we use this as it is") always count.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, selectinload

from kb.models import (
    PUBLIC_STATUSES,
    Adoption,
    Borrow,
    BorrowRequest,
    BorrowRequestStatus,
    Entry,
    Organisation,
    Sector,
)

BETWEEN_LIMIT = 500  # of each, on one page: a bound, far above the table's busiest row
MAX_GENERATIONS = 50  # a guard: copies are always newer than their sources, so no cycles


def borrow_of(session: Session, entry: Entry) -> Borrow | None:
    """The borrow that made ``entry``, if it is a copy."""
    return session.scalar(select(Borrow).where(Borrow.entry_id == entry.id))


def ancestors(session: Session, entry: Entry) -> list[Borrow]:
    """The chain of borrows behind ``entry``: its own first, the original author's last."""
    chain: list[Borrow] = []
    seen = {entry.id}
    borrow = borrow_of(session, entry)
    while borrow is not None and len(chain) < MAX_GENERATIONS:
        chain.append(borrow)
        if borrow.source_id in seen:
            break
        seen.add(borrow.source_id)
        borrow = borrow_of(session, borrow.source)
    return chain


@dataclass
class Node:
    """One entry in a family tree, with the copies made from it and who uses it as it is."""

    entry: Entry
    borrow: Borrow | None
    copies: list[Node] = field(default_factory=list)
    adoptions: list[Adoption] = field(default_factory=list)

    def size(self) -> int:
        return 1 + sum(child.size() for child in self.copies)


def family(session: Session, entry: Entry, visible) -> Node:
    """The whole tree ``entry`` belongs to, from the original down. ``visible(entry)`` says
    which copies the reader may see; hidden ones are left out with their descendants."""
    chain = ancestors(session, entry)
    root = Node(chain[-1].source if chain else entry, None)
    frontier, seen = [root], {root.entry.id}
    for _generation in range(MAX_GENERATIONS):
        if not frontier:
            break
        by_id = {node.entry.id: node for node in frontier}
        for adoption in _adoptions_of(session, list(by_id)):
            by_id[adoption.entry_id].adoptions.append(adoption)
        rows = session.scalars(
            select(Borrow)
            .join(Entry, Entry.id == Borrow.entry_id)
            .where(Borrow.source_id.in_(list(by_id)))
            .order_by(Entry.created_at, Entry.id)
        )
        next_frontier = []
        for borrow in rows:
            if borrow.entry_id in seen or not visible(borrow.entry):
                continue
            seen.add(borrow.entry_id)
            child = Node(borrow.entry, borrow)
            by_id[borrow.source_id].copies.append(child)
            next_frontier.append(child)
        frontier = next_frontier
    return root


def _adoptions_of(session: Session, entry_ids: list[int]) -> list[Adoption]:
    return list(
        session.scalars(
            select(Adoption)
            .join(Organisation, Organisation.id == Adoption.organisation_id)
            .where(Adoption.entry_id.in_(entry_ids))
            .order_by(Organisation.name)
        )
    )


@dataclass(frozen=True)
class Reuse:
    """How an entry has been reused: its public copies and its adoptions."""

    copies: list[Entry]
    adoptions: list[Adoption]

    @property
    def organisations(self) -> list[Organisation]:
        unique = {copy.organisation_id: copy.organisation for copy in self.copies}
        return sorted(unique.values(), key=lambda org: org.name)

    @property
    def sectors(self) -> list[Sector]:
        unique = {copy.origin_sector_id: copy.origin_sector for copy in self.copies}
        return sorted(unique.values(), key=lambda sector: sector.position)


def reuse_of(session: Session, entry: Entry) -> Reuse:
    """``entry``'s public copies (first generation) and the organisations using it as it is."""
    copies = session.scalars(
        select(Entry)
        .join(Borrow, Borrow.entry_id == Entry.id)
        .where(Borrow.source_id == entry.id, Entry.status.in_(PUBLIC_STATUSES))
        .order_by(Entry.created_at, Entry.id)
    )
    return Reuse(list(copies), _adoptions_of(session, [entry.id]))


# -- across the whole catalogue ---------------------------------------------------------------


@dataclass(frozen=True)
class SectorTable:
    """Borrows and adoptions by lending sector (rows) and borrowing sector (columns)."""

    sectors: list[Sector]
    borrows: dict[tuple[int, int], int]
    adoptions: dict[tuple[int, int], int]

    def total(self, lender: Sector, borrower: Sector) -> int:
        key = (lender.id, borrower.id)
        return self.borrows.get(key, 0) + self.adoptions.get(key, 0)

    @property
    def highest(self) -> int:
        return max((self.total(a, b) for a in self.sectors for b in self.sectors), default=0)

    def row_total(self, lender: Sector) -> int:
        return sum(self.total(lender, borrower) for borrower in self.sectors)

    def column_total(self, borrower: Sector) -> int:
        return sum(self.total(lender, borrower) for lender in self.sectors)

    @property
    def grand_total(self) -> int:
        return sum(self.borrows.values()) + sum(self.adoptions.values())


def sector_table(session: Session) -> SectorTable:
    """Every public borrow and every adoption, counted by lending and borrowing sector."""
    source, copy = aliased(Entry), aliased(Entry)
    borrows = session.execute(
        select(source.origin_sector_id, copy.origin_sector_id, func.count())
        .select_from(Borrow)
        .join(source, source.id == Borrow.source_id)
        .join(copy, copy.id == Borrow.entry_id)
        .where(copy.status.in_(PUBLIC_STATUSES))
        .group_by(source.origin_sector_id, copy.origin_sector_id)
    )
    adoptions = session.execute(
        select(Entry.origin_sector_id, Organisation.sector_id, func.count())
        .select_from(Adoption)
        .join(Entry, Entry.id == Adoption.entry_id)
        .join(Organisation, Organisation.id == Adoption.organisation_id)
        .group_by(Entry.origin_sector_id, Organisation.sector_id)
    )
    return SectorTable(
        sectors=list(session.scalars(select(Sector).order_by(Sector.position))),
        borrows={(a, b): n for a, b, n in borrows},
        adoptions={(a, b): n for a, b, n in adoptions},
    )


@dataclass(frozen=True)
class Between:
    """The borrows and adoptions one cell, row, column or the whole of the table counts."""

    borrows: list[Borrow]
    adoptions: list[Adoption]

    @property
    def total(self) -> int:
        return len(self.borrows) + len(self.adoptions)


def reuse_between(session: Session, lender: Sector | None, borrower: Sector | None) -> Between:
    """What ``sector_table`` counts from ``lender`` to ``borrower`` (None: every sector), newest
    first: exactly the items behind a cell, a row or column total, or the grand total."""
    source, copy = aliased(Entry), aliased(Entry)
    borrows = (
        select(Borrow)
        .join(source, source.id == Borrow.source_id)
        .join(copy, copy.id == Borrow.entry_id)
        .where(copy.status.in_(PUBLIC_STATUSES))
        .order_by(Borrow.created_at.desc(), Borrow.id.desc())
        .options(selectinload(Borrow.entry), selectinload(Borrow.source))
    )
    adoptions = (
        select(Adoption)
        .join(Entry, Entry.id == Adoption.entry_id)
        .join(Organisation, Organisation.id == Adoption.organisation_id)
        .order_by(Adoption.created_at.desc(), Adoption.id.desc())
        .options(selectinload(Adoption.entry))
    )
    if lender is not None:
        borrows = borrows.where(source.origin_sector_id == lender.id)
        adoptions = adoptions.where(Entry.origin_sector_id == lender.id)
    if borrower is not None:
        borrows = borrows.where(copy.origin_sector_id == borrower.id)
        adoptions = adoptions.where(Organisation.sector_id == borrower.id)
    return Between(
        list(session.scalars(borrows.limit(BETWEEN_LIMIT))),
        list(session.scalars(adoptions.limit(BETWEEN_LIMIT))),
    )


@dataclass(frozen=True)
class MostBorrowed:
    entry: Entry
    copies: int
    adoptions: int
    organisations: int

    @property
    def total(self) -> int:
        return self.copies + self.adoptions


def most_borrowed(session: Session, limit: int = 10) -> list[MostBorrowed]:
    """Public entries with the most public copies plus adoptions, most first."""
    copy = aliased(Entry)
    copies = defaultdict(set)
    for source_id, copy_id, org_id in session.execute(
        select(Borrow.source_id, copy.id, copy.organisation_id)
        .join(copy, copy.id == Borrow.entry_id)
        .where(copy.status.in_(PUBLIC_STATUSES))
    ):
        copies[source_id].add((copy_id, org_id))
    adoptions = defaultdict(set)
    for entry_id, org_id in session.execute(select(Adoption.entry_id, Adoption.organisation_id)):
        adoptions[entry_id].add(org_id)
    ids = set(copies) | set(adoptions)
    entries = {
        entry.id: entry
        for entry in session.scalars(
            select(Entry).where(Entry.id.in_(ids), Entry.status.in_(PUBLIC_STATUSES))
        )
    }
    ranked = [
        MostBorrowed(
            entry,
            len(copies[entry.id]),
            len(adoptions[entry.id]),
            len({org for _copy, org in copies[entry.id]} | adoptions[entry.id]),
        )
        for entry in entries.values()
    ]
    ranked.sort(key=lambda item: (-item.total, item.entry.title.lower()))
    return ranked[:limit]


@dataclass(frozen=True)
class Waiting:
    """What waits for an organisation: requests to borrow its entries, and copies whose
    originals changed since (and nobody dismissed it)."""

    requests: int
    updates: int


def waiting_for(session: Session, organisation: Organisation) -> Waiting:
    requests = session.scalar(
        select(func.count())
        .select_from(BorrowRequest)
        .join(Entry, Entry.id == BorrowRequest.entry_id)
        .where(
            Entry.organisation_id == organisation.id,
            BorrowRequest.status == BorrowRequestStatus.PENDING.value,
        )
    )
    source, copy = aliased(Entry), aliased(Entry)
    updates = session.scalar(
        select(func.count())
        .select_from(Borrow)
        .join(copy, copy.id == Borrow.entry_id)
        .join(source, source.id == Borrow.source_id)
        .where(
            copy.organisation_id == organisation.id,
            source.current_revision_number > Borrow.source_revision,
            source.current_revision_number > func.coalesce(Borrow.dismissed_revision, 0),
        )
    )
    return Waiting(requests or 0, updates or 0)
