"""Diffs cost a bounded amount whatever two revisions hold: huge changed passages are shown
removed and added whole, with a note, and diffs of the same texts are computed once."""

from __future__ import annotations

import random
from dataclasses import replace

from kb.db import utcnow
from kb.entries.content import current_content
from kb.entries.diffs import ADDED, REMOVED, word_diff
from kb.entries.editing import save_edit
from tests.factories import make_entry

NOTE = "too large to compare word by word"


def _random_words(seed: int, size: int, vocabulary: int = 5000) -> str:
    """``size`` characters of words drawn from ``vocabulary`` different ones, on one line.
    A small vocabulary makes every word recur: the costly case for difflib."""
    rng = random.Random(seed)
    words = []
    while sum(map(len, words)) < size:
        words.append(f"w{rng.randrange(vocabulary)} ")
    return "".join(words)


def _intact(diff, old: str, new: str) -> bool:
    return ("".join(t for k, t in diff.segments if k != ADDED) == old
            and "".join(t for k, t in diff.segments if k != REMOVED) == new)  # fmt: skip


def test_one_huge_changed_line_of_recurring_words_is_shown_whole_with_a_note():
    old, new = _random_words(1, 29_000, 50), _random_words(2, 29_000, 50)
    diff = word_diff(old, new)
    assert diff.coarse and _intact(diff, old, new)
    assert diff.removed == len(old.split()) and diff.added == len(new.split())


def test_one_huge_changed_line_of_varied_words_is_still_compared_word_by_word():
    """The reported case: two 29 KB lines of random words took 15 s; difflib needs little
    work on them once spaces are not compared as words of their own."""
    old, new = _random_words(1, 29_000), _random_words(2, 29_000)
    diff = word_diff(old, new)
    assert not diff.coarse and _intact(diff, old, new)


def test_ordinary_edits_of_a_long_paragraph_stay_word_by_word():
    old = _random_words(3, 6_000)
    words = old.split(" ")
    for position in range(0, len(words), 50):
        words[position] = "CHANGED"
    new = " ".join(words)
    diff = word_diff(old, new)
    assert not diff.coarse and _intact(diff, old, new)
    assert diff.added == diff.removed == len(range(0, len(old.split(" ")), 50))


def test_the_allowance_covers_the_whole_diff_not_each_line():
    old = "\n".join(_random_words(seed, 4_000, 20) for seed in range(8))
    new = "\n".join(_random_words(seed + 10, 4_000, 20) for seed in range(8))
    first = word_diff(old.split("\n")[0], new.split("\n")[0])
    assert not first.coarse  # each line alone fits in the allowance
    diff = word_diff(old, new)
    assert diff.coarse and _intact(diff, old, new)


def test_space_only_changes_count_no_words_and_keep_both_texts():
    old, new = "one two  three\nfour", "one  two three\n four"
    diff = word_diff(old, new)
    assert (diff.added, diff.removed) == (0, 0) and _intact(diff, old, new)


def test_the_same_texts_are_diffed_once():
    old, new = _random_words(4, 3_000), _random_words(5, 3_000)
    assert word_diff(old, new) is word_diff(old, new)


def test_the_diff_page_says_when_it_compared_whole_passages(client, store, org):
    entry = make_entry(store, org, body=_random_words(6, 29_000, 50))
    content = replace(current_content(entry), body=_random_words(7, 29_000, 50))
    save_edit(store, entry, author=None, content=content, base=1, edit_summary="", now=utcnow())
    store.commit()
    page = client.get(f"/entries/{entry.slug}/diff/1/2").text
    assert NOTE in page
    assert NOTE not in client.get(f"/entries/{entry.slug}/diff/1/1").text
