"""Three-way merge of two edits made from the same revision.

Text is merged line by line with ``merge3`` (the maintained merge from Bazaar/Breezy); single
values merge when at most one side changed them; sets of terms take both sides' additions and
removals. ``None`` means the edits overlap and a person has to choose.
"""

from __future__ import annotations

from dataclasses import replace

from merge3 import Merge3

from kb.entries.content import Content

TEXT_FIELDS = ("body",)
SET_FIELDS = ("relevant_sectors", "channels", "topics")
VALUE_FIELDS = ("title", "summary", "licence", "evidence_stage", "outcome", "review_by")


def merge_text(base: str, mine: str, theirs: str) -> str | None:
    """``mine`` and ``theirs`` merged, or None if they change the same lines differently."""
    merger = Merge3(base.splitlines(True), mine.splitlines(True), theirs.splitlines(True))
    lines: list[str] = []
    for group in merger.merge_groups():
        if group[0] == "conflict":
            return None
        lines.extend(group[1])
    return "".join(lines)


def merge_value(base, mine, theirs):
    """(value, True) when at most one side changed it or both agree, else (None, False)."""
    if mine == theirs or theirs == base:
        return mine, True
    if mine == base:
        return theirs, True
    return None, False


def merge_set(base: tuple, mine: tuple, theirs: tuple) -> tuple:
    """Their set plus what I added, minus what I removed."""
    added, removed = set(mine) - set(base), set(base) - set(mine)
    return tuple(sorted((set(theirs) | added) - removed))


def merge_content(base: Content, mine: Content, theirs: Content) -> Content | None:
    """Both edits combined, or None when they overlap."""
    changes: dict = {}
    for name in TEXT_FIELDS:
        merged = merge_text(getattr(base, name), getattr(mine, name), getattr(theirs, name))
        if merged is None:
            return None
        changes[name] = merged
    for name in VALUE_FIELDS:
        value, ok = merge_value(getattr(base, name), getattr(mine, name), getattr(theirs, name))
        if not ok:
            return None
        changes[name] = value
    for name in SET_FIELDS:
        changes[name] = merge_set(getattr(base, name), getattr(mine, name), getattr(theirs, name))
    return replace(mine, **changes)
