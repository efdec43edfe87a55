"""Helpers for the following, notification and email tests, and a program they run apart.

Run from the repository root as ``python -m tests.notify_support COMMAND ARGS``:

- ``send-and-die INSTANCE DATABASE MAIL_URL``: deliver the outbox as ``kb send-mail`` does,
  and SIGKILL the process right after the first message is handed to the SMTP server, before
  it is marked sent.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from sqlalchemy import select

from kb.db import db
from kb.models import Notification, OutboxMessage, User
from tests.editor_support import send
from tests.web import signed_in


def follow_through_page(app, user, kind: str, target: str):
    """Follow with the button every page has: a POST to /follow."""
    client = signed_in(app, user)
    response = send(client, "/follow", {"kind": kind, "target": target, "next": "/"})
    assert response.status_code == 302, response.text[:300]
    return client


def follow_search(app, user, query: str, name: str = "My search"):
    client = signed_in(app, user)
    response = send(client, "/follow", {"kind": "search", "query": query, "name": name})
    assert response.status_code == 302, response.text[:300]
    return client


def received(app, user) -> list[tuple[str, int | None]]:
    """(event, entry id) of every notification ``user`` has, oldest first."""
    with app.app_context():
        return [
            (n.event, n.entry_id)
            for n in db.session.scalars(
                select(Notification)
                .where(Notification.user_id == user.id)
                .order_by(Notification.id)
            )
        ]


def outbox(app) -> list[OutboxMessage]:
    with app.app_context():
        return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def user_by(app, email: str) -> User:
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


def _send_and_die(instance: str, database: str, mail_url: str) -> None:
    from kb.notifications import outbox as sender
    from tests.conftest import make_app

    app = make_app(Path(instance), database, MAIL_URL=mail_url, MAIL_CLAIM_SECONDS=1)
    finish = sender._finish

    def die_once_delivered(session, message, *, sent, **kwargs):
        if sent:
            os.kill(os.getpid(), signal.SIGKILL)  # delivered, not yet marked sent
        finish(session, message, sent=sent, **kwargs)

    sender._finish = die_once_delivered
    with app.app_context():
        sender.deliver_due(app, db.session)
    print("not killed", flush=True)
    sys.exit(3)


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    {"send-and-die": _send_and_die}[command](*arguments)
