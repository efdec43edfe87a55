"""Finding the entry a URL names, if the reader may see it (kept apart from the views so any
blueprint can use it without importing the entry pages)."""

from __future__ import annotations

from flask import abort
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb import permissions
from kb.db import db
from kb.models import Entry


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
