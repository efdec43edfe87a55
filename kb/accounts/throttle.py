"""Sign-in throttling, stored in the database so every worker process sees the same counts.

An account is locked after ``LOGIN_FAILURES_PER_ACCOUNT`` failures in the window; a client
address after ``LOGIN_FAILURES_PER_ADDRESS`` (higher, because a whole council or police force
often shares one address). The lock lifts by itself as old failures leave the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kb.models import LoginFailure


@dataclass(frozen=True)
class Limits:
    per_account: int
    per_address: int
    window: timedelta


def _retry_at(times: list[datetime], limit: int, window: timedelta) -> datetime | None:
    """When the count in the window drops below ``limit`` again, or None if it already is."""
    if len(times) < limit:
        return None
    return times[len(times) - limit] + window


def retry_at(session: Session, email: str, address: str, limits: Limits, now: datetime):
    """The time sign-in may be tried again for this account or address, or None if not locked."""
    since = now - limits.window

    def times(column, value) -> list[datetime]:
        query = (
            select(LoginFailure.created_at)
            .where(column == value, LoginFailure.created_at > since)
            .order_by(LoginFailure.created_at)
        )
        return list(session.scalars(query))

    waits = [
        _retry_at(times(LoginFailure.email, email), limits.per_account, limits.window),
        _retry_at(times(LoginFailure.address, address), limits.per_address, limits.window),
    ]
    waits = [w for w in waits if w is not None]
    return max(waits) if waits else None


def record_failure(session: Session, email: str, address: str, limits: Limits, now: datetime):
    """Count a failed sign-in, and drop failures that have left the window."""
    session.execute(delete(LoginFailure).where(LoginFailure.created_at <= now - limits.window))
    session.add(LoginFailure(email=email, address=address, created_at=now))
    session.flush()


def clear_account(session: Session, email: str) -> None:
    """A successful sign-in wipes the account's failures (not the address's)."""
    session.execute(delete(LoginFailure).where(LoginFailure.email == email))
