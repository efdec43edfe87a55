"""Inserting what is missing of the sample catalogue, once it has been read and checked.
Idempotent: what already exists (by slug) is left exactly as it is. Flushes; the caller
commits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.entries.services import create_entry
from kb.models import Entry, Organisation
from kb.seeding.reading import TERM_LISTS, read_catalogue, read_taxonomy
from kb.seeding.reuse import link_copy, load_reuse

IMPORT_SUMMARY = "Imported from the sample catalogue"


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, created: bool) -> None:
        bucket = self.created if created else self.unchanged
        bucket[what] = bucket.get(what, 0) + 1

    @property
    def total_created(self) -> int:
        return sum(self.created.values())


def _at(day: date) -> datetime:
    return datetime.combine(day, time(9, 0), tzinfo=UTC)


def load_taxonomy(session: Session, root: Path) -> SeedReport:
    """Add any sectors, channels and topics that are missing. Flushes; the caller commits."""
    report = SeedReport()
    _load_terms(session, read_taxonomy(root), report)
    return report


def load_catalogue(session: Session, root: Path) -> SeedReport:
    """Add whatever of the sample catalogue is missing. Flushes; the caller commits."""
    catalogue, report = read_catalogue(root), SeedReport()
    terms = _load_terms(session, catalogue.terms, report)
    orgs = _load_organisations(session, catalogue.organisations, terms["sectors"], report)
    _load_entries(session, catalogue.entries, orgs, terms, report)
    load_reuse(session, catalogue.reuse, report)
    return report


def _load_terms(session: Session, terms: dict[str, list[dict]], report: SeedReport) -> dict:
    """Insert missing terms; return {"sectors": {slug: Sector}, "channels": ..., ...}."""
    by_slug: dict[str, dict] = {}
    for name, model in TERM_LISTS.items():
        existing = {term.slug: term for term in session.scalars(select(model))}
        for item in terms[name]:
            report.count(name, created=item["slug"] not in existing)
            if item["slug"] not in existing:
                existing[item["slug"]] = model(**item)
                session.add(existing[item["slug"]])
        by_slug[name] = existing
    session.flush()
    return by_slug


def _load_organisations(session, items: list[dict], sectors: dict, report: SeedReport) -> dict:
    orgs = {org.slug: org for org in session.scalars(select(Organisation))}
    for item in items:
        report.count("organisations", created=item["slug"] not in orgs)
        if item["slug"] in orgs:
            continue
        fields = {key: value for key, value in item.items() if key != "sector"}
        orgs[item["slug"]] = Organisation(**fields, sector=sectors[item["sector"]], is_sample=True)
        session.add(orgs[item["slug"]])
    session.flush()
    return orgs


def _load_entries(session, items: list[dict], orgs: dict, terms: dict, report: SeedReport):
    """Create missing entries; ``items`` lists sources before their copies."""
    entries = {entry.slug: entry for entry in session.scalars(select(Entry))}
    for item in items:
        report.count("entries", created=item["slug"] not in entries)
        if item["slug"] in entries:
            continue
        entries[item["slug"]] = create_entry(
            session,
            organisation=orgs[item["organisation"]],
            author=None,
            slug=item["slug"],
            kind=item["kind"],
            title=item["title"],
            summary=item["summary"],
            body=item["body"],
            relevant_sectors=[terms["sectors"][s] for s in item["relevant_sectors"]],
            channels=[terms["channels"][s] for s in item["channels"]],
            topics=[terms["topics"][s] for s in item["topics"]],
            licence=item["licence"],
            evidence_stage=item.get("evidence_stage"),
            outcome=item.get("outcome"),
            review_by=item["review_by"],
            status=item["status"],
            edit_summary=IMPORT_SUMMARY,
            created_at=_at(item["created"]),
            updated_at=_at(item["updated"]),
        )
        if item.get("borrowed_from"):
            link_copy(session, entries[item["slug"]], item, entries)
    session.flush()
