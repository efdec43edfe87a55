"""The three-way merge behind "Merge these changes" (``kb.borrowing.upstream``): clean
merges, conflicts kept from both sides between markers, title and summary conflicts, sets of
terms, the copy's own licence and details, and a property check over generated texts. The flow
over HTTP is in test_borrowing_merge.py."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

import pytest

from kb.borrowing.upstream import (
    OURS_MARKER,
    SEPARATOR,
    THEIRS_MARKER,
    Conflict,
    has_markers,
    merge_body,
    propose,
)
from kb.entries.content import Content
from kb.entries.merging import merge_text

MARKERS = (OURS_MARKER, SEPARATOR, THEIRS_MARKER)

BASE = Content(
    title="Flood warnings on three channels",
    summary="One message, three channels.",
    body="## Context\n\nPara one.\n\nPara two.\n\nPara three.\n",
    relevant_sectors=("health", "housing"),
    channels=("facebook", "sms-text"),
    topics=("emergencies-and-resilience",),
    licence="OGL-UK-3.0",
)


def _marker_lines(body: str) -> list[str]:
    return [line for line in body.split("\n") if line.startswith(MARKERS)]


# --- kb.borrowing.upstream: merge_body ---------------------------------------------------------


def test_changes_to_different_lines_merge_cleanly():
    ours = "## Context\n\nPara one, our wording.\n\nPara two.\n\nPara three.\n"
    theirs = "## Context\n\nPara one.\n\nPara two.\n\nPara three, now with figures.\n"
    merged, conflicts = merge_body(BASE.body, ours, theirs, 2)
    assert (
        merged
        == "## Context\n\nPara one, our wording.\n\nPara two.\n\nPara three, now with figures.\n"
    )
    assert conflicts == []
    assert not has_markers(merged) and _marker_lines(merged) == []


def test_additions_on_both_sides_at_different_places_are_both_kept():
    ours = "## Context\n\nOur new opening.\n\nPara one.\n\nPara two.\n\nPara three.\n"
    theirs = BASE.body + "\nTheir new closing.\n"
    merged, conflicts = merge_body(BASE.body, ours, theirs, 3)
    assert conflicts == []
    assert "Our new opening." in merged and "Their new closing." in merged
    assert merged.index("Our new opening.") < merged.index("Their new closing.")


def test_only_the_original_changed_takes_its_change():
    theirs = BASE.body.replace("Para two.", "Para two, corrected.")
    assert merge_body(BASE.body, BASE.body, theirs, 2) == (theirs, [])


def test_only_the_copy_changed_keeps_the_copy():
    ours = BASE.body.replace("Para two.", "Para two, ours.")
    assert merge_body(BASE.body, ours, BASE.body, 2) == (ours, [])


def test_the_same_change_on_both_sides_is_not_a_conflict():
    both = BASE.body.replace("Para two.", "Para two, fixed the same way.")
    assert merge_body(BASE.body, both, both, 2) == (both, [])


def test_overlapping_changes_keep_both_sides_between_markers():
    base = "one\ntwo\nthree\n"
    merged, conflicts = merge_body(base, "one\nmine\nthree\n", "one\ntheirs\nthree\n", 5)
    assert merged == (
        f"one\n{OURS_MARKER}\nmine\n{SEPARATOR}\ntheirs\n{THEIRS_MARKER}, revision 5\nthree\n"
    )
    assert conflicts == [Conflict("body", "Text", "mine\n", "theirs\n")]
    assert has_markers(merged)


def test_every_conflict_gets_its_own_markers_and_nothing_is_lost():
    base = "A\n\nB\n\nC\n\nD\n\nE\n"
    ours = "A ours\n\nB\n\nC ours\n\nD\n\nE ours\n"
    theirs = "A theirs\n\nB\n\nC theirs\n\nD theirs\n\nE\n"
    merged, conflicts = merge_body(base, ours, theirs, 4)
    assert [(c.ours, c.theirs) for c in conflicts] == [
        ("A ours\n", "A theirs\n"),
        ("C ours\n", "C theirs\n"),
    ]
    lines = merged.split("\n")
    assert lines.count(OURS_MARKER) == lines.count(SEPARATOR) == 2
    assert sum(line.startswith(THEIRS_MARKER) for line in lines) == 2
    for wanted in ("A ours", "A theirs", "C ours", "C theirs", "D theirs", "E ours", "B"):
        assert wanted in lines, wanted
    assert "D" not in lines and "E" not in lines  # one-sided changes win cleanly


def test_conflicting_last_lines_without_a_newline_keep_markers_on_their_own_lines():
    merged, conflicts = merge_body("a\nb", "a\nours", "a\ntheirs", 2)
    assert merged == f"a\n{OURS_MARKER}\nours\n{SEPARATOR}\ntheirs\n{THEIRS_MARKER}, revision 2\n"
    assert len(conflicts) == 1


def test_a_deletion_against_a_change_keeps_the_change():
    merged, conflicts = merge_body(
        "one\ntwo\nthree\n", "one\nthree\n", "one\ntwo, edited\nthree\n", 2
    )
    assert len(conflicts) == 1 and conflicts[0].ours == ""
    assert "two, edited" in merged and has_markers(merged)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (f"x\n{OURS_MARKER}\ny\n", True),
        (f"x\r\n{THEIRS_MARKER}, revision 3\r\n", True),
        ("Heading\n=======\n\ntext <<<<<<< inside a line\n", False),
        (f"x\n{SEPARATOR}\ny\n", True),
        ("", False),
    ],
)
def test_has_markers(text, found):
    assert has_markers(text) is found


# --- propose: titles, summaries, sets and the copy's own details --------------------------------


def test_title_and_summary_changed_on_one_side_merge():
    ours = replace(BASE, summary="Our summary.")
    theirs = replace(BASE, title="A better title")
    proposal = propose(BASE, ours, theirs, 2)
    assert (proposal.content.title, proposal.content.summary) == ("A better title", "Our summary.")
    assert proposal.conflicts == () and proposal.upstream_revision == 2


def test_title_and_summary_conflicts_keep_ours_in_the_content_and_report_theirs():
    ours = replace(BASE, title="Our title", summary="Our summary.")
    theirs = replace(BASE, title="Their title", summary="Their summary.")
    proposal = propose(BASE, ours, theirs, 7)
    assert (proposal.content.title, proposal.content.summary) == ("Our title", "Our summary.")
    assert proposal.conflicts == (
        Conflict("title", "Title", "Our title", "Their title"),
        Conflict("summary", "Summary", "Our summary.", "Their summary."),
    )
    assert not has_markers(proposal.content.title + proposal.content.summary)


def test_sets_take_both_sides_additions_and_removals():
    ours = replace(
        BASE,
        relevant_sectors=("health", "housing", "police"),  # added police
        channels=("sms-text",),  # removed facebook
        topics=("accessibility", "emergencies-and-resilience"),  # added accessibility
    )
    theirs = replace(
        BASE,
        relevant_sectors=("health",),  # removed housing
        channels=("facebook", "sms-text", "websites"),  # added websites
        topics=(),  # removed emergencies-and-resilience
    )
    merged = propose(BASE, ours, theirs, 2).content
    assert merged.relevant_sectors == ("health", "police")
    assert merged.channels == ("sms-text", "websites")
    assert merged.topics == ("accessibility",)


def test_the_copy_keeps_its_own_licence_evidence_outcome_and_review_date():
    ours = replace(
        BASE,
        licence="CC-BY-4.0",
        evidence_stage="measured",
        outcome="worked",
        review_by=date(2027, 1, 31),
    )
    theirs = replace(
        BASE,
        licence="CC-BY-SA-4.0",
        evidence_stage="evaluated",
        outcome="mixed",
        review_by=date(2030, 6, 1),
        body=BASE.body.replace("Para one.", "Para one, theirs."),
    )
    merged = propose(BASE, ours, theirs, 2).content
    assert (merged.licence, merged.evidence_stage, merged.outcome, merged.review_by) == (
        "CC-BY-4.0",
        "measured",
        "worked",
        date(2027, 1, 31),
    )
    assert "Para one, theirs." in merged.body


def test_details_the_copy_never_changed_are_still_not_taken_from_the_original():
    """A generic three-way merge would take the original's new licence when the copy kept the
    base's; a copy's licence is bound by its own terms, so it stays."""
    theirs = replace(BASE, licence="ask-first", evidence_stage="evaluated", outcome="mixed",
                     review_by=date(2030, 6, 1))  # fmt: skip
    merged = propose(BASE, BASE, theirs, 2).content
    assert (merged.licence, merged.evidence_stage, merged.outcome, merged.review_by) == (
        "OGL-UK-3.0",
        None,
        None,
        None,
    )


# --- Property: nothing either side wrote is lost ------------------------------------------------


def _mutate(rng: random.Random, lines: list[str], side: str, counter) -> list[str]:
    out = []
    for line in lines:
        roll = rng.random()
        if roll < 0.12 and line:
            out.append(f"{side} rewrote {line} #{next(counter)}")
        elif roll < 0.2:
            continue  # deleted
        else:
            out.append(line)
        if rng.random() < 0.1:
            out.append(f"{side} added line #{next(counter)}")
    return out


def _generated(seed: int) -> tuple[str, str, str]:
    rng = random.Random(seed)
    counter = iter(range(10**6))
    base_lines = []
    for number in range(rng.randint(0, 30)):
        base_lines.append("" if rng.random() < 0.25 else f"base line {number} {rng.random():.6f}")
    texts = [base_lines, _mutate(rng, base_lines, "ours", counter)]
    texts.append(_mutate(rng, base_lines, "theirs", counter))
    ended = rng.random() < 0.8  # sometimes the last line has no newline
    return tuple("\n".join(lines) + ("\n" if ended and lines else "") for lines in texts)


def _content_lines(body: str) -> list[str]:
    return [line for line in body.split("\n") if line and not line.startswith(MARKERS)]


@pytest.mark.parametrize("seed", range(60))
def test_generated_texts_lose_nothing_either_side_wrote(seed):
    base, ours, theirs = _generated(seed)
    merged, conflicts = merge_body(base, ours, theirs, 9)
    merged_lines = _content_lines(merged)
    base_lines = set(_content_lines(base))
    ours_new = [line for line in _content_lines(ours) if line not in base_lines]
    theirs_new = [line for line in _content_lines(theirs) if line not in base_lines]
    # Every line either side changed or added is in the result...
    assert [line for line in ours_new + theirs_new if line not in merged_lines] == []
    # ...so is every line both sides kept...
    kept = set(_content_lines(ours)) & set(_content_lines(theirs))
    assert kept <= set(merged_lines)
    # ...and nothing else was made up: every line comes from one side or the other.
    sides = set(_content_lines(ours)) | set(_content_lines(theirs))
    assert set(merged_lines) <= sides
    # Each new line appears once, and each side's new lines keep their order. (Unchanged
    # lines inside a conflict may appear twice: once in each side's half.)
    for new_lines in (ours_new, theirs_new):
        assert all(merged_lines.count(line) == 1 for line in new_lines)
        assert [line for line in merged_lines if line in new_lines] == new_lines
    # Markers come in complete sets, one per conflict, each on a line of its own.
    lines = merged.split("\n")
    assert lines.count(OURS_MARKER) == lines.count(SEPARATOR) == len(conflicts)
    assert sum(line == f"{THEIRS_MARKER}, revision 9" for line in lines) == len(conflicts)
    assert has_markers(merged) == bool(conflicts)
    # Where nothing overlaps, the result is exactly what the edit conflict merge gives.
    assert (merge_text(base, ours, theirs) is None) == bool(conflicts)
    if not conflicts:
        assert merged == merge_text(base, ours, theirs)


def test_the_generated_texts_include_both_clean_merges_and_conflicts():
    outcomes = {bool(merge_body(*_generated(seed), 9)[1]) for seed in range(60)}
    assert outcomes == {True, False}
