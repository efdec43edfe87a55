"""What an edit changes: an entry's text and details as plain, comparable values.

``Content`` is what the edit form produces, what a revision records and what the three-way
merge works on. Terms are held as slugs, so two contents compare equal exactly when saving one
over the other would change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from kb.models import Entry, Kind, Revision

DETAIL_LABELS = {
    "relevant_sectors": "Also relevant to",
    "channels": "Channels",
    "topics": "Topics",
    "licence": "Licence",
    "evidence_stage": "Evidence",
    "outcome": "Outcome",
    "review_by": "Review by",
}

BODY_TEMPLATES = {
    Kind.CASE_STUDY.value: """## Context

What was the problem or opportunity, and who was it for?

## What we did

The channel, the approach, who was involved and how long it took.

## Results

What changed? Give figures where you have them.

## Evidence

How do you know? Surveys, analytics, evaluation reports.

## Lessons

What would you do differently, and what should others copy?

## Resources

Policies, templates and contacts others can borrow.
""",
    Kind.GUIDANCE.value: """## Purpose

What this guidance is for and the problem it solves.

## Scope

Who it applies to, and what it does not cover.

## The guidance

The steps, rules or advice, in order.

## Do and don't

- Do:
- Don't:

## Review

Who owns this guidance and when it will next be reviewed.
""",
}


def _prompts(template: str) -> list[tuple[str, str]]:
    """(section, prompt line) for each line of a body template under a "## " heading."""
    found, section = [], ""
    for line in template.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif line.strip():
            found.append((section, line.strip()))
    return found


TEMPLATE_PROMPTS = {kind: _prompts(template) for kind, template in BODY_TEMPLATES.items()}


def prompts_left(kind: str, body: str) -> list[str]:
    """The sections of ``body`` that still hold a line of the kind's template prompt as it
    was given (a whole line, unchanged), in the template's order."""
    lines = {line.strip() for line in body.splitlines()}
    sections = [section for section, prompt in TEMPLATE_PROMPTS.get(kind, ()) if prompt in lines]
    return list(dict.fromkeys(sections))


def prompts_message(sections: list[str], publishing: bool) -> str:
    """What to tell the writer about template prompts left in ``sections``."""
    names = " and ".join(filter(None, [", ".join(sections[:-1]), sections[-1]]))
    which = f"The {names} section{'s' if len(sections) > 1 else ''}"
    has = "have" if len(sections) > 1 else "has"
    it = "them" if len(sections) > 1 else "it"
    advice = f"replace {it} with your own words, or delete {it}"
    if publishing:
        return f"{which} still {has} the template's prompt text: {advice}, before publishing."
    return f"{which} still {has} the template's prompt text: {advice} before you publish."


@dataclass(frozen=True)
class Content:
    """An entry's editable text and details. Term tuples are sorted slugs."""

    title: str
    summary: str
    body: str
    relevant_sectors: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    licence: str = ""
    evidence_stage: str | None = None
    outcome: str | None = None
    review_by: date | None = field(default=None)

    def __post_init__(self) -> None:
        for name in ("relevant_sectors", "channels", "topics"):
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name)))))

    def details(self) -> dict:
        """The details as JSON-ready values, as stored on a revision."""
        return {
            "relevant_sectors": list(self.relevant_sectors),
            "channels": list(self.channels),
            "topics": list(self.topics),
            "licence": self.licence,
            "evidence_stage": self.evidence_stage,
            "outcome": self.outcome,
            "review_by": self.review_by.isoformat() if self.review_by else None,
        }

    def with_details(self, details: dict) -> Content:
        review_by = details.get("review_by")
        return replace(
            self,
            relevant_sectors=tuple(details.get("relevant_sectors", ())),
            channels=tuple(details.get("channels", ())),
            topics=tuple(details.get("topics", ())),
            licence=details.get("licence", ""),
            evidence_stage=details.get("evidence_stage"),
            outcome=details.get("outcome"),
            review_by=date.fromisoformat(review_by) if review_by else None,
        )


def entry_details(entry: Entry) -> dict:
    """The entry's details as they are now."""
    return Content(
        title="",
        summary="",
        body="",
        relevant_sectors=tuple(s.slug for s in entry.relevant_sectors),
        channels=tuple(c.slug for c in entry.channels),
        topics=tuple(t.slug for t in entry.topics),
        licence=entry.licence,
        evidence_stage=entry.evidence_stage,
        outcome=entry.outcome,
        review_by=entry.review_by,
    ).details()


def revision_content(revision: Revision, fallback_details: dict) -> Content:
    """What ``revision`` recorded. Revisions from before details were recorded borrow
    ``fallback_details`` (normally the entry's current ones)."""
    text = Content(title=revision.title, summary=revision.summary, body=revision.body)
    return text.with_details(revision.details if revision.details is not None else fallback_details)


def current_content(entry: Entry) -> Content:
    """The entry as it stands: its current revision's text and its current details."""
    revision = entry.current_revision
    assert revision is not None
    return Content(title=revision.title, summary=revision.summary, body=revision.body).with_details(
        entry_details(entry)
    )
