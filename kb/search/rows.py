"""The database's side of a results page: the entries the index found, and the names of
their channels, each in one round trip.

Building ORM objects is most of it: the channels of a page's entries, loaded as
relationships, were a tenth of a search page's time; as plain rows, a thirtieth.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from kb.models import Channel, Entry, Organisation, entry_channels


def load_entries(
    session: Session, ids: Sequence[int], *, with_channels: bool = True
) -> dict[int, Entry]:
    """Entries by id (their organisation and sector come joined), with their channels unless
    ``with_channels`` is False (``channel_names`` then gives them)."""
    if not ids:
        return {}
    query = (
        select(Entry)
        .where(Entry.id.in_(ids))
        .options(
            # A card shows the organisation's name, not its sector (joined by default).
            joinedload(Entry.organisation).lazyload(Organisation.sector)
        )
    )
    if with_channels:
        query = query.options(selectinload(Entry.channels))
    return {entry.id: entry for entry in session.scalars(query)}


def channel_names(session: Session, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """The names of each entry's channels, in the channels' curated order."""
    if not ids:
        return {}
    # On the session's connection: the ORM's handling of a statement doubles its cost.
    rows = session.connection().execute(
        select(entry_channels.c.entry_id, Channel.name)
        .join(Channel, Channel.id == entry_channels.c.channel_id)
        .where(entry_channels.c.entry_id.in_(ids))
        .order_by(Channel.position)
    )  # fmt: skip
    names: dict[int, list[str]] = defaultdict(list)
    for entry_id, name in rows:
        names[entry_id].append(name)
    return {entry_id: tuple(found) for entry_id, found in names.items()}
