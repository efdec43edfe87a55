"""Views for reading one entry."""

from __future__ import annotations

from flask import abort, current_app, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb import permissions
from kb.borrowing.panel import entry_panel
from kb.db import db
from kb.entries import bp
from kb.licences import LICENCES, attribution
from kb.models import Entry, Status
from kb.search import SearchUnavailable, get_index
from kb.search.similar import related_across_sectors


def _related(entry: Entry) -> list[Entry]:
    if entry.status != Status.PUBLISHED.value:
        return []
    try:
        return related_across_sectors(get_index(), db.session, entry)
    except SearchUnavailable:
        return []  # search is catching up; the page is complete without suggestions
    except Exception:  # the entry matters more than its suggestions
        current_app.logger.exception("Related entries failed for %s", entry.slug)
        return []


def load_entry(slug: str) -> Entry:
    """The entry at ``slug`` if the current reader may see it; 404 otherwise."""
    entry = db.session.scalar(
        select(Entry)
        .where(Entry.slug == slug)
        .options(
            selectinload(Entry.relevant_sectors),
            selectinload(Entry.channels),
            selectinload(Entry.topics),
            selectinload(Entry.current_revision),
        )
    )
    if entry is None or entry.current_revision is None:
        abort(404)
    permissions.require_visible(permissions.can_view(current_user, entry))
    return entry


@bp.get("/<slug>")
def show(slug: str):
    entry = load_entry(slug)
    link = url_for("entries.show", slug=entry.slug, _external=True)
    return render_template(
        "entries/show.html",
        entry=entry,
        related=_related(entry),
        reuse=entry_panel(db.session, entry, current_user),
        revision=entry.current_revision,
        licence=LICENCES[entry.licence],
        attribution=attribution(
            entry.licence, title=entry.title, organisation=entry.organisation.name, link=link
        ),
    )
