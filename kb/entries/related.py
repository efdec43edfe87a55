""" "Related across sectors": worked out once per change of an entry, not on every view.

The list comes from the search index (``kb.search.similar.related_ids``) and is kept in
``related_entries`` with the change-log id the index had applied when it was worked out. It is
worked out again when the change log shows the entry changed since, or once it is a day old
(other entries published meanwhile may be closer). Whether each related entry may still be
shown is decided when the page is read, so an entry unpublished since never appears.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from kb.db import utcnow
from kb.models import Entry, RelatedEntries, SearchChange, Status
from kb.search import SearchIndex
from kb.search.similar import related_ids

SHOWN = 5
KEPT = 8  # a few spare, for those unpublished since
REFRESH_AFTER = timedelta(days=1)


def related_entries(index: SearchIndex, session: Session, entry: Entry) -> list[Entry]:
    """Up to ``SHOWN`` published entries like ``entry`` from other sectors. Works the list
    out again (and stores it, flushed, for the caller to commit) only if it is missing or
    stale; raises ``SearchUnavailable`` if it must and the index cannot be read."""
    row, changed = session.execute(
        select(
            RelatedEntries,
            exists().where(
                SearchChange.entry_id == entry.id,
                SearchChange.id > RelatedEntries.computed_through,
            ),
        ).where(RelatedEntries.entry_id == entry.id)
    ).one_or_none() or (None, True)
    if row is None or changed or utcnow() - row.computed_at > REFRESH_AFTER:
        ids, applied = related_ids(index, entry, limit=KEPT)
        _store(session, entry.id, ids, applied)
    else:
        ids = [int(i) for i in row.related_ids.split(",") if i]
    return _published(session, ids)[:SHOWN]


def _store(session: Session, entry_id: int, ids: list[int], applied: int) -> None:
    values = {
        "entry_id": entry_id,
        "related_ids": ",".join(map(str, ids)),
        "computed_through": applied,
        "computed_at": utcnow(),
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(RelatedEntries).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[RelatedEntries.entry_id],
            set_={key: statement.excluded[key] for key in values if key != "entry_id"},
        )
    )


def _published(session: Session, ids: list[int]) -> list[Entry]:
    if not ids:
        return []
    found = {
        entry.id: entry
        for entry in session.scalars(
            select(Entry)
            .where(Entry.id.in_(ids), Entry.status == Status.PUBLISHED.value)
            .options(selectinload(Entry.channels), selectinload(Entry.relevant_sectors))
        )
    }
    return [found[i] for i in ids if i in found]
