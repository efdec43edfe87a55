"""Entry details in words, for history, diffs and conflicts."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from kb.db import db
from kb.entries.content import Content
from kb.entries.diffs import detail_changes, word_diff
from kb.licences import LICENCES
from kb.models import TERM_MODELS, EvidenceStage, Outcome

# The details that hold terms, and the kind of term each holds.
_TERMS = {"relevant_sectors": TERM_MODELS["sector"], "channels": TERM_MODELS["channel"],
          "topics": TERM_MODELS["topic"]}  # fmt: skip


def describe_detail(name: str, value) -> str:
    """``value`` of detail ``name`` as a reader would say it ("None" when empty)."""
    if value in (None, "", []):
        return "None"
    if name in _TERMS:
        model = _TERMS[name]
        names = dict(
            db.session.execute(select(model.slug, model.name).where(model.slug.in_(value))).all()
        )
        return ", ".join(names.get(slug, slug) for slug in value)
    if name == "licence":
        return LICENCES[value].name if value in LICENCES else str(value)
    if name == "evidence_stage":
        return EvidenceStage(value).label
    if name == "outcome":
        return Outcome(value).label
    if name == "review_by":
        day = date.fromisoformat(value)
        return f"{day.day} {day:%B %Y}"
    return str(value)


def content_changes(old: Content, new: Content) -> dict:
    """Word diffs of the title, summary and text, and the details that differ, in words."""
    return {
        "title": word_diff(old.title, new.title),
        "summary": word_diff(old.summary, new.summary),
        "body": word_diff(old.body, new.body),
        "details": detail_changes(old.details(), new.details(), describe_detail),
    }
