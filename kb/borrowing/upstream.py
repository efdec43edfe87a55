"""Changes made to an original after it was borrowed, and merging them into the copy.

The merge is three-way: the source revision the copy is based on, the source as it is now, and
the copy as it is now. Text merges line by line (``merge3``); where both sides changed the
same lines, the proposal keeps both, between marker lines the person resolves before saving.
Only what the copy took from the source is merged (title, summary, text, sectors, channels,
topics); the copy's licence, evidence, outcome and review date stay its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from merge3 import Merge3
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.entries.content import Content, current_content, revision_content
from kb.entries.merging import merge_set, merge_value
from kb.models import Borrow, Entry, Revision

OURS_MARKER = "<<<<<<< Your copy"
# Words after the equals signs keep the line from being a Markdown heading underline, so a
# separator left in by mistake is caught like the other two markers.
SEPARATOR = "======= The original's version"
THEIRS_MARKER = ">>>>>>> The original"


def source_revision(session: Session, source: Entry, number: int) -> Revision | None:
    return session.scalar(
        select(Revision).where(Revision.entry_id == source.id, Revision.number == number)
    )


def source_content(session: Session, source: Entry, number: int) -> Content | None:
    """What revision ``number`` of ``source`` said, or None if there is no such revision."""
    revision = source_revision(session, source, number)
    if revision is None:
        return None
    return revision_content(revision, current_content(source).details())


def revisions_since(
    session: Session, source: Entry, number: int, limit: int = 20
) -> list[Revision]:
    """The newest ``limit`` revisions of ``source`` after revision ``number``, oldest first:
    what its authors said about each change since a copy was based on it."""
    newest = session.scalars(
        select(Revision)
        .where(Revision.entry_id == source.id, Revision.number > number)
        .order_by(Revision.number.desc())
        .limit(limit)
    )
    return list(reversed(list(newest)))


def has_update(borrow: Borrow) -> bool:
    """The source has revisions after the copy's base that nobody has dismissed."""
    newest = borrow.source.current_revision_number
    seen = max(borrow.source_revision, borrow.dismissed_revision or 0)
    return newest > seen


@dataclass(frozen=True)
class Conflict:
    """Both sides changed ``field``: ``ours`` is the copy's text, ``theirs`` the original's."""

    field: str
    label: str
    ours: str
    theirs: str


@dataclass(frozen=True)
class Proposal:
    """The merged content to review, the source revision it brings the copy up to, and the
    places where a person has to choose."""

    content: Content
    upstream_revision: int
    conflicts: tuple[Conflict, ...]


def _lines(text: str) -> list[str]:
    return text.splitlines(True)


def _ended(lines) -> list[str]:
    lines = list(lines)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def merge_body(base: str, ours: str, theirs: str, revision: int) -> tuple[str, list[Conflict]]:
    """The texts merged; each overlapping change is kept from both sides between markers."""
    merged: list[str] = []
    conflicts: list[Conflict] = []
    for group in Merge3(_lines(base), _lines(ours), _lines(theirs)).merge_groups():
        if group[0] != "conflict":
            merged.extend(group[1])
            continue
        _base, mine, their = group[1], group[2], group[3]
        conflicts.append(Conflict("body", "Text", "".join(mine), "".join(their)))
        merged = _ended(merged)
        merged.append(f"{OURS_MARKER}\n")
        merged.extend(_ended(mine))
        merged.append(f"{SEPARATOR}\n")
        merged.extend(_ended(their))
        merged.append(f"{THEIRS_MARKER}, revision {revision}\n")
    return "".join(merged), conflicts


def has_markers(text: str) -> bool:
    """Whether unresolved conflict markers are still in ``text``."""
    return any(
        line.startswith((OURS_MARKER, SEPARATOR, THEIRS_MARKER))
        for line in text.replace("\r", "").split("\n")
    )


def propose(base: Content, ours: Content, theirs: Content, revision: int) -> Proposal:
    """Merge the original's changes from ``base`` to ``theirs`` into the copy, ``ours``."""
    body, conflicts = merge_body(base.body, ours.body, theirs.body, revision)
    changes: dict = {"body": body}
    for name, label in (("title", "Title"), ("summary", "Summary")):
        value, clean = merge_value(getattr(base, name), getattr(ours, name), getattr(theirs, name))
        if clean:
            changes[name] = value
        else:  # ours stays in the form; theirs is shown beside it to copy across
            changes[name] = getattr(ours, name)
            conflicts.append(Conflict(name, label, getattr(ours, name), getattr(theirs, name)))
    for name in ("relevant_sectors", "channels", "topics"):
        changes[name] = merge_set(getattr(base, name), getattr(ours, name), getattr(theirs, name))
    return Proposal(replace(ours, **changes), revision, tuple(conflicts))


def proposal_for(session: Session, copy: Entry, borrow: Borrow) -> Proposal | None:
    """The merge of everything the source gained since the copy's base, or None if the base
    revision is missing (it never is for copies made through Span)."""
    base = source_content(session, borrow.source, borrow.source_revision)
    if base is None:
        return None
    theirs = current_content(borrow.source)
    return propose(base, current_content(copy), theirs, borrow.source.current_revision_number)
