"""From database rows to index documents, in bulk: a handful of queries per batch of entries,
whether the batch is one saved entry or a thousand during a rebuild."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from sqlalchemy import Connection, and_, func, select
from sqlalchemy.orm import aliased

from kb.models import (
    PUBLIC_STATUSES,
    Adoption,
    Borrow,
    Channel,
    Entry,
    Kind,
    Organisation,
    Revision,
    Sector,
    Topic,
    entry_channels,
    entry_sectors,
    entry_topics,
)
from kb.rendering import text_of_html
from kb.search.folders import DRAFTS, PUBLIC

BATCH = 500
ACROSS_SECTORS = "other-sectors"  # the ``reuse`` value of entries borrowed by another sector


def _tags(connection: Connection, link, model, column: str, ids: Sequence[int]) -> dict:
    rows = connection.execute(
        select(link.c.entry_id, model.slug, model.name)
        .join(model, model.id == link.c[column])
        .where(link.c.entry_id.in_(ids))
        .order_by(model.position)
    )
    found: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for entry_id, slug, name in rows:
        found[entry_id].append((slug, name))
    return found


def reuse_counts(connection: Connection, ids: Sequence[int]) -> dict[int, tuple[int, bool]]:
    """For each of ``ids`` that others reused: (public copies + adoptions, whether any of them
    is from another sector than the entry's own). Drafts of copies do not count yet."""
    source, copy = aliased(Entry), aliased(Entry)
    borrowed = (
        select(Borrow.source_id, copy.origin_sector_id, source.origin_sector_id)
        .join(copy, copy.id == Borrow.entry_id)
        .join(source, source.id == Borrow.source_id)
        .where(Borrow.source_id.in_(ids), copy.status.in_(PUBLIC_STATUSES))
    )
    adopted = (
        select(Adoption.entry_id, Organisation.sector_id, source.origin_sector_id)
        .join(Organisation, Organisation.id == Adoption.organisation_id)
        .join(source, source.id == Adoption.entry_id)
        .where(Adoption.entry_id.in_(ids))
    )
    found: dict[int, tuple[int, bool]] = {}
    for entry_id, borrower_sector, own_sector in [
        *connection.execute(borrowed),
        *connection.execute(adopted),
    ]:
        count, across = found.get(entry_id, (0, False))
        found[entry_id] = (count + 1, across or borrower_sector != own_sector)
    return found


def fingerprint(document: dict) -> str:
    """A digest of everything indexed about an entry except its body, which the revision
    number stands for. ``kb index-check`` compares these with the database."""
    parts = {k: v for k, v in document.items() if k not in {"body", "spelling", "fingerprint"}}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class Document(NamedTuple):
    """An entry as the index holds it, and which index holds it: ``public`` for what anyone
    may find, ``drafts/<organisation id>`` for a draft."""

    place: str
    drafts_place: str  # its organisation's drafts index, where it is (or was) a draft
    fields: dict


def drafts_place(organisation_id: int) -> str:
    return f"{DRAFTS}/{organisation_id}"


def load_documents(connection: Connection, ids: Sequence[int]) -> dict[int, Document]:
    """Index documents for those of ``ids`` that exist, keyed by entry id, in the order of
    ``ids``."""
    if not ids:
        return {}
    rows = connection.execute(
        select(
            Entry.id,
            Entry.kind,
            Entry.title,
            Entry.summary,
            Entry.status,
            Entry.licence,
            Entry.evidence_stage,
            Entry.outcome,
            func.coalesce(Entry.published_at, Entry.created_at).label("published_at"),
            Entry.updated_at,
            Entry.current_revision_number,
            Entry.organisation_id,
            Organisation.slug.label("org_slug"),
            Organisation.name.label("org_name"),
            Sector.slug.label("origin_slug"),
            Sector.name.label("origin_name"),
            Revision.body_html,
        )  # fmt: skip
        .join(Organisation, Organisation.id == Entry.organisation_id)
        .join(Sector, Sector.id == Entry.origin_sector_id)
        .outerjoin(
            Revision,
            and_(Revision.entry_id == Entry.id, Revision.number == Entry.current_revision_number),
        )
        .where(Entry.id.in_(ids))
    ).all()
    sectors = _tags(connection, entry_sectors, Sector, "sector_id", ids)
    channels = _tags(connection, entry_channels, Channel, "channel_id", ids)
    topics = _tags(connection, entry_topics, Topic, "topic_id", ids)
    reuse = reuse_counts(connection, ids)
    documents = {}
    for row in rows:
        all_sectors = [(row.origin_slug, row.origin_name), *sectors.get(row.id, [])]
        tags = [*all_sectors, *channels.get(row.id, []), *topics.get(row.id, [])]
        body = text_of_html(row.body_html or "")
        reused, across = reuse.get(row.id, (0, False))
        document = {
            "id": str(row.id),
            "title": row.title,
            "summary": row.summary,
            "body": body,
            "organisation_name": row.org_name,
            "tags": " ".join([Kind(row.kind).label, *(name for _slug, name in tags)]),
            "sector": ",".join(slug for slug, _name in all_sectors),
            "origin_sector": row.origin_slug,
            "channel": ",".join(slug for slug, _name in channels.get(row.id, [])),
            "topic": ",".join(slug for slug, _name in topics.get(row.id, [])),
            "kind": row.kind,
            "organisation": row.org_slug,
            "licence": row.licence,
            "evidence": row.evidence_stage or "",
            "outcome": row.outcome or "",
            "status": row.status,
            "reuse": ",".join(["borrowed"] * bool(reused) + [ACROSS_SECTORS] * across),
            "borrow_count": reused,
            "created": row.published_at.replace(tzinfo=None),  # "Newest" sorts by publication
            "updated": row.updated_at.replace(tzinfo=None),
            "revision": row.current_revision_number,
        }
        # Spelling suggestions come from titles, summaries and tags, not bodies: analysing each
        # body twice nearly doubled the time to build the index.
        document["spelling"] = " ".join((row.title, row.summary, document["tags"], row.org_name))
        document["fingerprint"] = fingerprint(document)
        del document["revision"]
        drafts = drafts_place(row.organisation_id)
        place = PUBLIC if row.status in PUBLIC_STATUSES else drafts
        documents[row.id] = Document(place, drafts, document)
    # In the order of ``ids`` (PostgreSQL returns rows in any order), so a rebuild indexes
    # entries in the same order however it splits them between processes.
    return {
        entry_id: documents[entry_id] for entry_id in dict.fromkeys(ids) if entry_id in documents
    }


def all_entry_ids(connection: Connection) -> list[int]:
    return list(connection.scalars(select(Entry.id).order_by(Entry.id)))


def drafts_by_place(connection: Connection) -> dict[str, list[int]]:
    """The entries each drafts index holds (``drafts_place``: those not public, by their
    organisation), in entry order; one query, without reading the entries themselves."""
    rows = connection.execute(
        select(Entry.id, Entry.organisation_id)
        .where(Entry.status.not_in(PUBLIC_STATUSES))
        .order_by(Entry.id)
    )
    found: dict[str, list[int]] = defaultdict(list)
    for entry_id, organisation_id in rows:
        found[drafts_place(organisation_id)].append(entry_id)
    return dict(found)


def batches(ids: Sequence[int], size: int = BATCH) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def iter_documents(connection: Connection, ids: Iterable[int]) -> Iterator[Document]:
    """Every document for ``ids``, loaded a batch at a time."""
    for batch in batches(list(ids)):
        yield from load_documents(connection, batch).values()
