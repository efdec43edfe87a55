"""Views for reading one entry."""

from __future__ import annotations

from flask import current_app, render_template, url_for
from flask_login import current_user

from kb.caching.pages import dont_store
from kb.db import db
from kb.entries import bp
from kb.entries.content import prompts_left, prompts_message
from kb.entries.lookup import load_entry
from kb.entries.panels import build_panels
from kb.entries.related import refresher, related_entries
from kb.licences import LICENCES, attribution
from kb.models import Entry, Status
from kb.search import SearchUnavailable, get_index


def _related(entry: Entry) -> list[Entry]:
    if entry.status != Status.PUBLISHED.value:
        return []
    try:
        found, complete = related_entries(
            get_index(), db.session, entry, refresher(current_app._get_current_object())
        )
        db.session.commit()  # a list worked out here is kept (nothing else was written)
    except SearchUnavailable:
        db.session.rollback()
        found, complete = [], False  # search is catching up; the page is whole without them
    except Exception:  # the entry matters more than its suggestions
        db.session.rollback()
        current_app.logger.exception("Related entries failed for %s", entry.slug)
        found, complete = [], False
    if not complete:
        dont_store()
    return found


def _prompts_note(entry: Entry) -> str:
    """On a draft: which sections still hold the template's prompts ('' if none)."""
    if entry.status != Status.DRAFT.value:
        return ""
    left = prompts_left(entry.kind, entry.current_revision.body)
    return prompts_message(left, publishing=False) if left else ""


@bp.get("/<slug>")
def show(slug: str):
    entry = load_entry(slug)
    link = url_for("entries.show", slug=entry.slug, _external=True)
    return render_template(
        "entries/show.html",
        entry=entry,
        related=_related(entry),
        panels=build_panels(current_app, db.session, entry, current_user),
        revision=entry.current_revision,
        prompts=_prompts_note(entry),
        licence=LICENCES[entry.licence],
        attribution=attribution(
            entry.licence, title=entry.title, organisation=entry.organisation.name, link=link
        ),
    )
