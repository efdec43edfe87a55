"""Word-level differences between two texts, marked up for every reader.

Lines are compared first and words only inside changed lines, which keeps long entries fast.
The result is plain segments; the template escapes them and marks insertions and deletions as
``<ins>``/``<del>`` (underlined and struck through, not only coloured) with visually hidden
words so screen readers announce them too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher

from kb.entries.content import DETAIL_LABELS

TOKENS = re.compile(r"\s+|[^\s]+")
SAME, ADDED, REMOVED = "same", "added", "removed"


@dataclass(frozen=True)
class Diff:
    """Segments of (SAME | ADDED | REMOVED, text), in reading order; the template marks them up."""

    segments: tuple[tuple[str, str], ...]
    added: int  # words added
    removed: int  # words removed

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def _words(tokens: list[str]) -> int:
    return sum(1 for t in tokens if not t.isspace())


def _word_level(old: str, new: str, segments: list) -> tuple[int, int]:
    a, b = TOKENS.findall(old), TOKENS.findall(new)
    added = removed = 0
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            segments.append((SAME, "".join(a[i1:i2])))
            continue
        if i2 > i1:
            segments.append((REMOVED, "".join(a[i1:i2])))
            removed += _words(a[i1:i2])
        if j2 > j1:
            segments.append((ADDED, "".join(b[j1:j2])))
            added += _words(b[j1:j2])
    return added, removed


def word_diff(old: str, new: str) -> Diff:
    """The difference from ``old`` to ``new``, with the unchanged text kept in place."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    segments: list[tuple[str, str]] = []
    added = removed = 0
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            segments.append((SAME, "".join(a[i1:i2])))
            continue
        plus, minus = _word_level("".join(a[i1:i2]), "".join(b[j1:j2]), segments)
        added, removed = added + plus, removed + minus
    return Diff(tuple(segments), added, removed)


@dataclass(frozen=True)
class DetailChange:
    label: str
    old: str
    new: str


def detail_changes(
    old: dict | None, new: dict | None, describe: Callable[[str, object], str]
) -> list[DetailChange]:
    """Which details differ between two revisions, described in words by ``describe``."""
    if old is None or new is None:
        return []
    return [
        DetailChange(label, describe(name, old.get(name)), describe(name, new.get(name)))
        for name, label in DETAIL_LABELS.items()
        if old.get(name) != new.get(name)
    ]
