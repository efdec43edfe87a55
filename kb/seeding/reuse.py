"""The sample catalogue's reuse: which sample entries are copies, plus ``borrowing.yaml``
(adoptions, later revisions of sample entries, and requests to borrow "ask first" entries).

Read and checked with the rest of the catalogue (so one bad line rejects the whole run), and
loaded after every entry exists. Idempotent like the rest: what exists is left alone.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.borrowing.services import adopt, adoption_by, ask_to_borrow, record_borrow
from kb.entries.content import current_content
from kb.entries.editing import save_edit
from kb.licences import LICENCES, copy_licences
from kb.models import BorrowRequest, Entry, Organisation

COPY_FIELDS = {"borrowed_from", "borrowed_revision", "borrow_note"}


def _at(day: date) -> datetime:
    return datetime.combine(day, time(9, 0), tzinfo=UTC)


def read_copy_fields(reader, path: Path, meta: dict, record: dict) -> None:
    """Add a copy's ``borrowed_from``, ``borrowed_revision`` and ``borrow_note`` to
    ``record`` (checked against the other entries later, in ``check_copies``)."""
    source = meta.get("borrowed_from")
    record["borrowed_from"] = source
    if source is None:
        return
    revision = meta.get("borrowed_revision", 1)
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 1:
        reader.fail(path, "borrowed_revision", "must be a revision number (1 or more)")
    note = meta.get("borrow_note")
    if not isinstance(note, str) or not note.strip():
        reader.fail(path, "borrow_note", "is required for a copy: say what changed and why")
        note = ""
    record["borrowed_revision"] = revision
    record["borrow_note"] = " ".join(note.split())


def check_copies(reader, root: Path, entries: list[dict]) -> list[dict]:
    """Check each copy's source and licence; return the entries with sources before copies."""
    by_slug = {entry["slug"]: entry for entry in entries}
    for entry in entries:
        source_slug = entry.get("borrowed_from")
        if source_slug is None:
            continue
        path = root / "entries" / f"{entry['slug']}.md"
        source = by_slug.get(source_slug)
        if source is None:
            reader.fail(path, "borrowed_from", f"no sample entry {source_slug!r}")
            continue
        if source["organisation"] == entry["organisation"]:
            reader.fail(path, "borrowed_from", "a copy must belong to another organisation")
        if not LICENCES[source["licence"]].adaptable:
            reader.fail(path, "borrowed_from", f"{source_slug} is 'ask-first' and cannot be copied")
        elif entry["licence"] not in copy_licences(source["licence"]):
            reader.fail(path, "licence", f"a copy of {source_slug} must be {source['licence']}")
        if source["kind"] != entry["kind"]:
            reader.fail(path, "kind", f"must match its source's ({source['kind']})")
    return _sources_first(reader, root, entries, by_slug)


def _sources_first(reader, root: Path, entries: list[dict], by_slug: dict) -> list[dict]:
    ordered, placed = [], set()
    waiting = list(entries)
    while waiting:
        ready = [e for e in waiting if e.get("borrowed_from") in (None, *placed)]
        ready += [e for e in waiting if e.get("borrowed_from") not in by_slug and e not in ready]
        if not ready:
            for entry in waiting:
                path = root / "entries" / f"{entry['slug']}.md"
                reader.fail(path, "borrowed_from", "copies borrow from each other in a circle")
            break
        ordered += ready
        placed |= {e["slug"] for e in ready}
        waiting = [e for e in waiting if e["slug"] not in placed]
    return ordered


def read_reuse(reader, path: Path, entries: list[dict], orgs: set[str]) -> dict:
    """Read and check ``borrowing.yaml`` (which may be absent)."""
    empty = {"adoptions": [], "updates": [], "requests": []}
    if not path.exists():
        return empty
    data = reader.yaml_file(path)
    if data is None:
        return empty
    if not isinstance(data, dict) or set(data) - set(empty):
        reader.fail(path, "(file)", "must map adoptions, updates and requests to lists")
        return empty
    by_slug = {entry["slug"]: entry for entry in entries}
    bodies = {slug: entry["body"] for slug, entry in by_slug.items()}
    revisions = dict.fromkeys(by_slug, 1)
    out = {name: [] for name in empty}
    for name in empty:
        items = data.get(name) or []
        if not isinstance(items, list):
            reader.fail(path, name, "must be a list")
            continue
        for index, item in enumerate(items):
            label = f"{name}[{index}]"
            if not isinstance(item, dict) or item.get("entry") not in by_slug:
                reader.fail(path, f"{label}.entry", "must name a sample entry")
                continue
            entry = by_slug[item["entry"]]
            if not isinstance(item.get("date"), date):
                reader.fail(path, f"{label}.date", "must be a date written YYYY-MM-DD")
                continue
            if name == "updates":
                _check_update(reader, path, label, item, bodies, revisions)
            else:
                _check_reuse(reader, path, label, name, item, entry, orgs)
            out[name].append(item)
    return out


def _check_reuse(reader, path, label, name, item, entry, orgs) -> None:
    if item.get("organisation") not in orgs:
        reader.fail(path, f"{label}.organisation", "must name a sample organisation")
    elif item["organisation"] == entry["organisation"]:
        reader.fail(path, f"{label}.organisation", "must not be the entry's own organisation")
    text = item.get("message" if name == "requests" else "note", "")
    if not isinstance(text, str):
        reader.fail(path, label, "note and message must be text")
    if name == "requests" and LICENCES[entry["licence"]].adaptable:
        reader.fail(path, f"{label}.entry", "requests are for 'ask-first' entries")


def _check_update(reader, path, label, item, bodies, revisions) -> None:
    slug = item["entry"]
    if item.get("revision") != revisions[slug] + 1:
        reader.fail(path, f"{label}.revision", f"must be {revisions[slug] + 1}")
    changes = item.get("changes")
    if not isinstance(changes, list) or not changes:
        reader.fail(path, f"{label}.changes", "must be a list of find/replace pairs")
        return
    body = bodies[slug]
    for number, change in enumerate(changes):
        find, replace = (change or {}).get("find"), (change or {}).get("replace")
        if not isinstance(find, str) or not isinstance(replace, str) or body.count(find) != 1:
            reader.fail(path, f"{label}.changes[{number}]", "find must occur exactly once")
            continue
        body = body.replace(find, replace)
    bodies[slug] = body
    revisions[slug] += 1


def link_copy(session: Session, copy: Entry, item: dict, sources: dict[str, Entry]) -> None:
    """Record that a freshly created sample copy was borrowed from its source."""
    record_borrow(
        session, copy, sources[item["borrowed_from"]], source_revision=item["borrowed_revision"],
        note=item["borrow_note"], author=None, now=copy.created_at,
    )  # fmt: skip


def load_reuse(session: Session, reuse: dict, report) -> None:
    """Add the adoptions, later revisions and requests that are missing."""
    entries = {entry.slug: entry for entry in session.scalars(select(Entry))}
    orgs = {org.slug: org for org in session.scalars(select(Organisation))}
    for item in reuse["adoptions"]:
        entry, org = entries[item["entry"]], orgs[item["organisation"]]
        exists = adoption_by(session, entry, org)
        report.count("adoptions", created=exists is None)
        if exists is None:
            note = item.get("note", "")
            adopt(session, entry, organisation=org, user=None, note=note, now=_at(item["date"]))
    for item in reuse["updates"]:
        entry = entries[item["entry"]]
        report.count("revisions", created=entry.current_revision_number < item["revision"])
        if entry.current_revision_number >= item["revision"]:
            continue
        content = current_content(entry)
        body = content.body
        for change in item["changes"]:
            body = body.replace(change["find"], change["replace"])
        save_edit(
            session,
            entry,
            author=None,
            content=replace(content, body=body),
            base=item["revision"] - 1,
            edit_summary=item.get("edit_summary", ""),
            now=_at(item["date"]),
        )
    for item in reuse["requests"]:
        entry, org = entries[item["entry"]], orgs[item["organisation"]]
        exists = session.scalar(
            select(BorrowRequest).where(
                BorrowRequest.entry_id == entry.id, BorrowRequest.organisation_id == org.id
            )
        )
        report.count("requests", created=exists is None)
        if exists is None:
            ask_to_borrow(
                session, entry, organisation=org, user=None, message=item.get("message", ""),
                now=_at(item["date"]),
            )  # fmt: skip
    session.flush()
