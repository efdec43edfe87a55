"""Delivering the outbox: claim a due message, make its email, hand it over, mark it sent.

At least once, never lost: a message is claimed for a while with one conditional UPDATE (so
two senders never take the same one), delivered, then marked sent. A sender that dies in
between leaves the claim to lapse and the message is delivered again, with the same
``Message-ID``, which mail software uses to drop the duplicate. A refused delivery is tried
again later, waiting twice as long each time; after ``MAX_ATTEMPTS`` it is set aside and
reported, still in the table, for ``kb send-mail --retry`` once the cause is fixed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate

from flask import Flask, render_template, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kb import mail, permissions
from kb.db import utcnow
from kb.models import Entry, Notification, OutboxMessage, User
from kb.notifications.describe import describe

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=6)
UNSUBSCRIBE_SALT = "span-unsubscribe"
UNSUBSCRIBE_DAYS = 90


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: list[str] = field(default_factory=list)  # "to: reason"
    given_up: list[str] = field(default_factory=list)
    skipped: int = 0  # nothing left the person may see


def unsubscribe_token(app: Flask, user_id: int) -> str:
    return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT).dumps(user_id)


def unsubscribe_user(app: Flask, token: str) -> int | None:
    """The person an unsubscribe link was made for, or None if it was altered or is too old."""
    serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)
    try:
        user_id = serializer.loads(token, max_age=UNSUBSCRIBE_DAYS * 86400)
    except BadSignature:
        return None
    return user_id if isinstance(user_id, int) else None


def _due(session: Session, now: datetime, limit: int) -> list[int]:
    return list(session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.given_up_at.is_(None),
               OutboxMessage.next_attempt_at <= now,
               or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
        .order_by(OutboxMessage.id).limit(limit)
    ))  # fmt: skip


def _claim(session: Session, message_id: int, now: datetime, seconds: float) -> bool:
    claimed = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None),
               or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
        .values(claimed_until=now + timedelta(seconds=seconds),
                attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount  # fmt: skip
    session.commit()
    return claimed == 1


def deliver_due(app: Flask, session: Session, *, limit: int = 100) -> DeliveryReport:
    """Deliver every message that is due, one at a time; commits after each step."""
    report = DeliveryReport()
    for message_id in _due(session, utcnow(), limit):
        if not _claim(session, message_id, utcnow(), app.config["MAIL_CLAIM_SECONDS"]):
            continue  # another sender took it
        outbox = session.get(OutboxMessage, message_id)
        email = compose(app, session, outbox)
        if email is None:
            _finish(session, outbox, sent=True, error="nothing left to tell")
            report.skipped += 1
            continue
        try:
            mail.send(app.config, email)
        except mail.MailError as error:
            given_up = outbox.attempts >= MAX_ATTEMPTS
            _finish(session, outbox, sent=False, error=str(error), give_up=given_up)
            (report.given_up if given_up else report.retrying).append(f"{email['To']}: {error}")
            continue
        _finish(session, outbox, sent=True)
        report.sent += 1
    return report


def _finish(session, outbox: OutboxMessage, *, sent: bool, error: str = "", give_up=False) -> None:
    now = utcnow()
    outbox.claimed_until = None
    outbox.last_error = error[:500]
    if sent:
        outbox.sent_at = now
    elif give_up:
        outbox.given_up_at = now
    else:
        wait = min(FIRST_RETRY * 2 ** max(0, outbox.attempts - 1), LONGEST_WAIT)
        outbox.next_attempt_at = now + wait
    session.commit()


def retry_given_up(session: Session) -> int:
    """Put messages that were set aside back in the queue."""
    count = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.given_up_at.is_not(None))
        .values(given_up_at=None, attempts=0, next_attempt_at=utcnow())
    ).rowcount
    session.commit()
    return count


# -- the email itself ---------------------------------------------------------------------------


def visible_notifications(session: Session, user: User, ids: list[int]) -> list[Notification]:
    """Those of ``ids`` that belong to ``user`` and that they may still see, newest first."""
    found = session.scalars(
        select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id.desc())
    ).all()
    return [n for n in found if shown(session, user, n)]


def shown(session: Session, user: User, notification: Notification) -> bool:
    subject = (
        session.get(User, notification.subject_user_id) if notification.subject_user_id else None
    )
    entry = session.get(Entry, notification.entry_id) if notification.entry_id else None
    return permissions.can_see_notification(user, notification, entry, subject)


def compose(app: Flask, session: Session, outbox: OutboxMessage) -> EmailMessage | None:
    """The email for an outbox row, made now from rows that do not change; None if nothing
    in it is still for its person to see."""
    user = session.get(User, outbox.user_id)
    if user is None:
        return None
    notifications = visible_notifications(session, user, json.loads(outbox.notification_ids))
    if not notifications:
        return None
    with app.test_request_context(base_url=app.config["SITE_URL"]):
        unsubscribe = url_for("notifications.unsubscribe",
                              token=unsubscribe_token(app, user.id), _external=True)  # fmt: skip
        preferences = url_for("notifications.preferences", _external=True)
        site = app.config["SITE_URL"].rstrip("/")
        items = [(n, describe(session, n)) for n in notifications]
        context = {"user": user, "items": items, "digest": outbox.digest, "site": site,
                   "unsubscribe": unsubscribe, "preferences": preferences}  # fmt: skip
        subject = render_template("email/subject.txt", **context).strip()
        text = render_template("email/notifications.txt", **context)
        html = render_template("email/notifications.html", **context)
    message = EmailMessage()
    message["From"] = app.config["MAIL_FROM"]
    message["To"] = user.email
    message["Subject"] = " ".join(subject.split())[:200]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = outbox.message_id
    # RFC 8058: mail programs offer one-click unsubscribe, sent as a POST to this address.
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
