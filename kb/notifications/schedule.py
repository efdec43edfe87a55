"""What runs on a schedule: digests of notifications, and review reminders.

Both are safe to run as often as wanted: a notification goes into one email only
(``emailed_at``), and a review reminder is recorded per entry, date and stage, so a second
run the same day tells nobody twice.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import date, timedelta

from flask import Flask
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kb.db import savepoint, utcnow
from kb.models import (
    EmailFrequency,
    Entry,
    Event,
    Notification,
    OutboxMessage,
    ReviewReminder,
    Status,
    User,
)
from kb.notifications.fanout import Note, members, write

REVIEW_NOTICE = timedelta(days=30)


def queue_digests(app: Flask, session: Session, frequency: EmailFrequency) -> int:
    """One email per person who asked for ``frequency`` digests and has notifications not yet
    emailed; returns how many were queued. Commits."""
    now = utcnow()
    pending: dict[int, list[int]] = defaultdict(list)
    rows = session.execute(
        select(Notification.user_id, Notification.id)
        .join(User, User.id == Notification.user_id)
        .where(User.email_frequency == frequency.value, Notification.emailed_at.is_(None))
        .order_by(Notification.id)
    )
    for user_id, notification_id in rows:
        pending[user_id].append(notification_id)
    domain = app.config["MAIL_FROM"].rpartition("@")[2].strip("> ") or "span.invalid"
    for user_id, ids in pending.items():
        session.execute(update(Notification).where(Notification.id.in_(ids)).values(emailed_at=now))
        session.execute(insert(OutboxMessage).values(
            user_id=user_id, message_id=f"<{uuid.uuid4().hex}@{domain}>",
            notification_ids=json.dumps(ids), digest=frequency.value,
            created_at=now, next_attempt_at=now,
        ))  # fmt: skip
    session.commit()
    return len(pending)


def remind_reviews(app: Flask, session: Session, today: date) -> int:
    """Tell each published entry's editors when its review date is 30 days away, and when it
    has come; returns how many reminders were recorded. Commits after each entry."""
    recorded = 0
    soon = session.scalars(select(Entry).where(
        Entry.status == Status.PUBLISHED.value, Entry.review_by.is_not(None),
        Entry.review_by <= today + REVIEW_NOTICE,
    )).all()  # fmt: skip
    for entry in soon:
        stage = "due" if entry.review_by <= today else "soon"
        try:
            with savepoint(session):
                session.add(ReviewReminder(entry_id=entry.id, review_by=entry.review_by,
                                           stage=stage))  # fmt: skip
                session.flush()
        except IntegrityError:
            continue  # told already, for this date and stage
        event = Event.REVIEW_DUE if stage == "due" else Event.REVIEW_SOON
        editors = members(session, entry.organisation_id, editors=True)
        note = Note(editors, event, entry.id, detail=entry.review_by.isoformat(),
                    actor=entry.organisation.name)  # fmt: skip
        write(app, session, [note], utcnow())
        session.commit()
        recorded += 1
    return recorded
