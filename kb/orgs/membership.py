"""Deciding who belongs to an organisation: its editors approve or decline people who asked to
join. Explicit arguments; flush, never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from kb.models import Role, User


def approve_member(session: Session, member: User, now: datetime) -> None:
    member.approved_at = now
    session.flush()


def decline_member(session: Session, member: User) -> None:
    """The person keeps their account (and anything they wrote) but leaves the organisation."""
    member.organisation = None
    member.approved_at = None
    member.role = Role.MEMBER.value
    session.flush()
