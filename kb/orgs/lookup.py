"""Finding the organisation a URL names (kept apart from the views so any blueprint can use it
without importing the organisation pages)."""

from __future__ import annotations

from flask import abort
from sqlalchemy import select

from kb.db import db
from kb.models import Organisation


def load_organisation(slug: str) -> Organisation:
    """The organisation at ``slug``; 404 if there is none."""
    organisation = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
    if organisation is None:
        abort(404)
    return organisation
