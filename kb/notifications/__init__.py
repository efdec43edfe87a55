"""Notifications: an inbox for each person, and email through a transactional outbox.

What happened is noticed in the unit of work (``events.py``) and written as notifications
and outbox rows in the same transaction (``fanout.py``); a sender delivers the outbox
(``outbox.py``, ``sender.py``, ``kb send-mail``); digests and review reminders run on a
schedule (``schedule.py``).
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, g
from flask_login import current_user
from sqlalchemy import func, select

from kb.notifications import events  # noqa: F401 - registers the session listeners
from kb.notifications.sender import Sender
from kb.security import csrf

bp = Blueprint("notifications", __name__)
csrf_exempt = csrf.exempt


def init_app(app: Flask) -> None:
    """The mail sender for this app, the unread count for every page, and waking the sender
    after a request that queued email."""
    sender = app.extensions["kb.mail.sender"] = Sender(app)

    @app.after_request
    def _wake_sender(response: Response) -> Response:
        session = g.get("kb_session")
        queued = session is not None and session.info.pop("outbox_written", False)
        if queued and app.config["MAIL_SEND_IN_BACKGROUND"]:
            sender.wake()
        return response

    @app.context_processor
    def _unread() -> dict:
        return {"unread_notifications": unread_count}


def unread_count() -> int:
    """How many unread notifications the signed-in person has (0 for anyone else)."""
    from kb.db import db
    from kb.models import Notification

    if not current_user.is_authenticated:
        return 0
    return db.session.scalar(
        select(func.count()).where(
            Notification.user_id == current_user.id, Notification.read_at.is_(None)
        )
    ) or 0  # fmt: skip


from kb.notifications import views  # noqa: E402,F401 - registers the routes
