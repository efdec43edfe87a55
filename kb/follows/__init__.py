"""Following: people follow entries, sectors, channels, topics, organisations and searches,
and are told (``kb/notifications``) when what they follow gains or changes an entry.
Nobody sees who follows what."""

from __future__ import annotations

from flask import Blueprint, Flask
from flask_login import current_user

bp = Blueprint("follows", __name__)


def init_app(app: Flask) -> None:
    @app.context_processor
    def _following() -> dict:
        return {"is_following": is_following}


def is_following(kind: str, target_id: int = 0, query: str = "") -> bool:
    """For templates: whether the signed-in person follows this thing."""
    from kb.db import db
    from kb.follows.services import find
    from kb.models import FollowKind

    if not current_user.is_authenticated:
        return False
    return find(db.session, current_user, FollowKind(kind), target_id, query) is not None


from kb.follows import views  # noqa: E402,F401 - registers the routes
