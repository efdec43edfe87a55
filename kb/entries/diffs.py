"""Word-level differences between two texts, marked up for every reader.

Lines are compared first and words only inside changed lines, which keeps long entries fast.
The result is plain segments; the template escapes them and marks insertions and deletions as
``<ins>``/``<del>`` (underlined and struck through, not only coloured) with visually hidden
words so screen readers announce them too.

``difflib`` takes time proportional to the product of the two lengths (and worse when a token
repeats), so the work is capped: common beginnings and ends are set aside first, and a part
too large to compare within the remaining allowance is shown as removed and added whole, with
``coarse`` set so the page says so. Revisions never change, so diffs are kept in a small cache.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from itertools import accumulate

from kb.entries.content import DETAIL_LABELS

# A word with the space after it (or space at the start); words are compared without it.
TOKENS = re.compile(r"\s+|\S+\s*")
SAME, ADDED, REMOVED = "same", "added", "removed"
# Steps of comparison one diff may take (about a third of a second at worst).
MAX_STEPS = 2_000_000
CONTEXT_WORDS = 12  # unchanged words shown either side of a change in a passage
ELLIPSIS = "…"


@dataclass(frozen=True)
class Diff:
    """Segments of (SAME | ADDED | REMOVED, text), in reading order; the template marks them up."""

    segments: tuple[tuple[str, str], ...]
    added: int  # words added
    removed: int  # words removed
    coarse: bool = False  # some changes were too large to compare word by word

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

    def passages(self, context: int = CONTEXT_WORDS) -> list[tuple[tuple[str, str], ...]]:
        """Only the changed parts, each with up to ``context`` unchanged words either side;
        changes closer together than twice that share a passage. Cut text is marked "…"."""
        found: list[list[tuple[str, str]]] = []
        pending: list[tuple[str, str]] = []  # a change, and the text since it
        for index, (kind, text) in enumerate(self.segments):
            if kind != SAME:
                if not pending:
                    before = _last_words(self.segments[index - 1][1], context) if index else ""
                    pending = [(SAME, before)] if before else []
                    found.append(pending)
                pending.append((kind, text))
                continue
            if not pending:
                continue
            words = TOKENS.findall(text)
            last = index == len(self.segments) - 1
            if _words(words) <= 2 * context and not last:
                pending.append((SAME, text))  # the next change continues this passage
                continue
            pending.append((SAME, _first_words(text, context)))
            pending = []
        return [tuple(passage) for passage in found]


class _OverAllowance(Exception):
    pass


class _BoundedMatcher(SequenceMatcher):
    """``SequenceMatcher`` charging each search for a longest match with the steps it takes
    at most (for each item of ``a`` in range, one per place that item occurs in ``b``) and
    giving up when the diff's allowance runs out. Bounding the first search is not enough: on
    repetitive lines the recursion repeats it thousands of times."""

    def __init__(self, a, b, differ: _Differ) -> None:
        self.differ = differ
        super().__init__(None, a, b, autojunk=False)
        places = (len(self.b2j.get(item, ())) + 1 for item in a)
        self.steps = list(accumulate(places, initial=0))

    def find_longest_match(self, alo=0, ahi=None, blo=0, bhi=None):
        ahi = len(self.a) if ahi is None else ahi
        self.differ.allowance -= self.steps[ahi] - self.steps[alo]
        if self.differ.allowance < 0:
            raise _OverAllowance
        return super().find_longest_match(alo, ahi, blo, bhi)


def _words(tokens: Sequence[str]) -> int:
    return sum(1 for t in tokens if not t.isspace())


def _first_words(text: str, count: int) -> str:
    """The start of ``text`` up to ``count`` words, "…" after it if anything was cut."""
    tokens = TOKENS.findall(text)  # they join back to ``text``; each but a leading space is a word
    lead = 1 if tokens and tokens[0].isspace() else 0
    if len(tokens) - lead <= count:
        return text
    return "".join(tokens[: lead + count]).rstrip() + " " + ELLIPSIS


def _last_words(text: str, count: int) -> str:
    """The end of ``text`` from ``count`` words before it, "…" before it if anything was cut."""
    tokens = TOKENS.findall(text)
    lead = 1 if tokens and tokens[0].isspace() else 0
    if len(tokens) - lead <= count:
        return text
    return ELLIPSIS + " " + "".join(tokens[-count:])


class _Differ:
    """One diff's segments, counts and remaining allowance of comparisons."""

    def __init__(self) -> None:
        self.segments: list[tuple[str, str]] = []
        self.added = self.removed = 0
        self.allowance = MAX_STEPS
        self.coarse = False

    def add(self, kind: str, text: str) -> None:
        """Append a segment, joined to the last one when it is of the same kind."""
        if text and self.segments and self.segments[-1][0] == kind:
            self.segments[-1] = (kind, self.segments[-1][1] + text)
        elif text:
            self.segments.append((kind, text))

    def same(self, items: Sequence[str]) -> None:
        self.add(SAME, "".join(items))

    def replaced(self, old: Sequence[str], new: Sequence[str]) -> None:
        old_text, new_text = "".join(old), "".join(new)
        # Space after both the old and the new words is unchanged, not part of the change.
        kept = ""
        if old_text and new_text:
            space = len(old_text) - len(old_text.rstrip())
            space = min(space, len(new_text) - len(new_text.rstrip()))
            if space and old_text[-space:] == new_text[-space:]:
                old_text, new_text, kept = old_text[:-space], new_text[:-space], old_text[-space:]
        self.add(REMOVED, old_text)
        self.add(ADDED, new_text)
        self.removed += _words(TOKENS.findall(old_text))
        self.added += _words(TOKENS.findall(new_text))
        self.same([kept])

    def compare(self, a: Sequence[str], b: Sequence[str], changed: Callable, key=None) -> None:
        """Diff ``a`` against ``b`` (items equal when their ``key`` is); ``changed(old, new)``
        handles each part that differs. Unchanged parts show as they were in ``a``."""
        ka, kb = (list(map(key, a)), list(map(key, b))) if key else (a, b)
        shorter = min(len(a), len(b))
        start = 0
        while start < shorter and ka[start] == kb[start]:
            start += 1
        end = 0
        while end < shorter - start and ka[len(a) - 1 - end] == kb[len(b) - 1 - end]:
            end += 1
        self._equal(a[:start], b[:start])
        stop_a, stop_b = len(a) - end, len(b) - end
        middle_a, middle_b = a[start:stop_a], b[start:stop_b]
        opcodes = []
        if middle_a and middle_b:
            try:
                opcodes = _BoundedMatcher(ka[start:stop_a], kb[start:stop_b], self).get_opcodes()
            except _OverAllowance:
                self.coarse = True
                self.replaced(middle_a, middle_b)
        else:
            self.replaced(middle_a, middle_b)
        for op, i1, i2, j1, j2 in opcodes:
            if op == "equal":
                self._equal(middle_a[i1:i2], middle_b[j1:j2])
            else:
                changed(middle_a[i1:i2], middle_b[j1:j2])
        self._equal(a[stop_a:], b[stop_b:])

    def _equal(self, old: Sequence[str], new: Sequence[str]) -> None:
        """Items that compared equal; words may differ in the space after them."""
        if old == new:
            self.same(old)
            return
        for was, now in zip(old, new, strict=True):
            word = was.rstrip()
            self.same([word])
            if was == now:
                self.same([was[len(word) :]])
                continue
            self.add(REMOVED, was[len(word) :])
            self.add(ADDED, now[len(word) :])

    def lines(self, old: str, new: str) -> None:
        self.compare(old.splitlines(keepends=True), new.splitlines(keepends=True), self._words)

    def _words(self, old_lines: Sequence[str], new_lines: Sequence[str]) -> None:
        old, new = TOKENS.findall("".join(old_lines)), TOKENS.findall("".join(new_lines))
        self.compare(old, new, self.replaced, key=str.rstrip)


@lru_cache(maxsize=32)
def word_diff(old: str, new: str) -> Diff:
    """The difference from ``old`` to ``new``, with the unchanged text kept in place."""
    differ = _Differ()
    differ.lines(old, new)
    return Diff(tuple(differ.segments), differ.added, differ.removed, differ.coarse)


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
