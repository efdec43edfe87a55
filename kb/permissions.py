"""Who may do what. Every decision about access lives here and nowhere else.

Views call these functions (or ``require``); templates may only use them to show or hide a
control. Accounts arrive with the editing feature; until then every reader is anonymous.
"""

from __future__ import annotations

from flask import abort

from kb.models import Entry, Status

PUBLIC_STATUSES = frozenset({Status.PUBLISHED.value, Status.ARCHIVED.value})


def can_view(user, entry: Entry) -> bool:
    """Published and archived entries are public; drafts belong to their organisation."""
    if entry.status in PUBLIC_STATUSES:
        return True
    return user is not None and getattr(user, "organisation_id", None) == entry.organisation_id


def require(allowed: bool) -> None:
    """Stop the request with 404 unless ``allowed`` (hiding what a reader may not see)."""
    if not allowed:
        abort(404)
