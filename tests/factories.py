"""Factories for tests that need their own organisations and entries."""

from __future__ import annotations

import itertools

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.accounts.passwords import hash_password
from kb.db import utcnow
from kb.entries.services import create_entry
from kb.models import Channel, Entry, Organisation, Sector, Topic, User

_numbers = itertools.count(1)


def make_organisation(session: Session, *, sector: str = "police", **fields) -> Organisation:
    number = next(_numbers)
    organisation = Organisation(
        slug=fields.pop("slug", f"test-org-{number}"),
        name=fields.pop("name", f"Test Organisation {number}"),
        sector=session.scalar(select(Sector).where(Sector.slug == sector)),
        contact=fields.pop("contact", "team@test.example.org"),
        **fields,
    )
    session.add(organisation)
    session.flush()
    return organisation


def _terms(session: Session, model, slugs):
    return [session.scalar(select(model).where(model.slug == slug)) for slug in slugs]


def make_entry(
    session: Session,
    organisation: Organisation,
    *,
    body: str = "## Context\n\nSome text.",
    channels=("x-twitter",),
    topics=("evaluation",),
    relevant=(),
    **fields,
) -> Entry:
    number = next(_numbers)
    fields.setdefault("slug", f"test-entry-{number}")
    fields.setdefault("title", f"Test entry {number}")
    fields.setdefault("summary", "A test entry.")
    fields.setdefault("kind", "guidance")
    fields.setdefault("status", "published")
    return create_entry(
        session,
        organisation=organisation,
        author=None,
        body=body,
        channels=_terms(session, Channel, channels),
        topics=_terms(session, Topic, topics),
        relevant_sectors=_terms(session, Sector, relevant),
        **fields,
    )


TEST_PASSWORD = "correct horse battery staple"


def make_user(
    session: Session,
    organisation: Organisation | None,
    *,
    role: str = "member",
    approved: bool = True,
    password: str = TEST_PASSWORD,
    **fields,
) -> User:
    """A user who can sign in with ``password`` (needs an app context for the hash method)."""
    number = next(_numbers)
    user = User(
        email=fields.pop("email", f"person{number}@test.example.org"),
        display_name=fields.pop("display_name", f"Test Person {number}"),
        organisation=organisation,
        role=role,
        password_hash=hash_password(password),
        approved_at=utcnow() if approved else None,
        **fields,
    )
    session.add(user)
    session.flush()
    return user
