"""A notification in words, and where it leads: one place for the inbox and the emails."""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for
from sqlalchemy.orm import Session

from kb.models import Entry, Event, Notification, User


@dataclass(frozen=True)
class Described:
    text: str  # plain text; templates escape it
    link: str
    link_text: str
    detail: str  # an edit summary, a date


def describe(session: Session, notification: Notification) -> Described:
    entry = session.get(Entry, notification.entry_id) if notification.entry_id else None
    title = f"“{entry.title}”" if entry else "an entry"
    event, actor = Event(notification.event), notification.actor
    entry_link = url_for("entries.show", slug=entry.slug) if entry else url_for("browse.home")
    org_slug = entry.organisation.slug if entry else ""
    detail = notification.detail
    match event:
        case Event.PUBLISHED:
            return Described(f"{actor} published {title}.", entry_link, "Read it", "")
        case Event.REVISED:
            return Described(f"{actor} revised {title} (revision {notification.revision}).",
                             entry_link, "Read it", detail)  # fmt: skip
        case Event.BORROWED:
            return Described(f"{actor} borrowed your organisation's work: {title} is their "
                             "adaptation.", entry_link, "See their copy", "")  # fmt: skip
        case Event.ADOPTED:
            return Described(f"{actor} uses {title} as it is.", entry_link, "Open the entry", "")
        case Event.ASKED:
            link = url_for("borrowing.requests", slug=org_slug)
            return Described(f"{actor} asks to borrow {title}.", link, "Decide the request", "")
        case Event.GRANTED | Event.DECLINED:
            verb = "granted" if event == Event.GRANTED else "declined"
            return Described(f"{actor} {verb} your request to borrow {title}.", entry_link,
                             "Open the entry", "")  # fmt: skip
        case Event.UPSTREAM:
            link = url_for("borrowing.merge", slug=entry.slug) if entry else entry_link
            return Described(f"{actor} changed the original of your copy {title}.", link,
                             "See the changes and merge them", detail)  # fmt: skip
        case Event.JOIN_REQUESTED:
            person = session.get(User, notification.subject_user_id)
            organisation = person.organisation if person else None
            link = url_for("orgs.members", slug=organisation.slug) if organisation else "/"
            return Described(f"{actor} asks to join your organisation.", link,
                             "Approve or decline", "")  # fmt: skip
        case Event.APPROVED:
            text = f"Your membership of {actor} was approved: you can now write and borrow for it."
            return Described(text, url_for("accounts.account"), "Your account", "")
        case Event.REVIEW_SOON | Event.REVIEW_DUE:
            when = "is due for review today" if event == Event.REVIEW_DUE else (
                f"is due for review on {detail}")  # fmt: skip
            return Described(f"{title[0].upper()}{title[1:]} {when}.", entry_link,
                             "Review it", "")  # fmt: skip
    raise ValueError(event)
