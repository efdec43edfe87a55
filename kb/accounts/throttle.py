"""Sign-in throttling, stored in the database so every worker process sees the same counts.

Each attempt is counted, before its password is checked, under several keys ("buckets"):

- the account from this address: after ``per_account`` attempts in the window, that pair is
  paused until the window ends;
- the account from anywhere: after ``per_account`` attempts, each further attempt must wait
  twice as long as the one before (1 s, 2 s, 4 s ... up to the window), so guessing from many
  addresses gets nowhere while the owner is only delayed, never locked out;
- the address, across accounts: the same doubling wait after ``per_address`` attempts, against
  one address trying many accounts.

A browser that signed in to the account before carries a signed device cookie; its attempts
are counted under that device alone, so nobody else's guessing (or a shared office address)
delays it. A device that fails ``per_account`` times loses that privilege for the window.

Counting is one conditional upsert per bucket (``INSERT ... ON CONFLICT DO UPDATE ... WHERE``,
on SQLite and PostgreSQL), so parallel guesses cannot all pass one check: exactly as many as
the limit get through. A successful sign-in takes its attempt back.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import case, delete, literal, or_, select, update
from sqlalchemy.orm import Session

from kb.db import upsert
from kb.models import LoginThrottle

DEVICE_COOKIE = "kb_device"


@dataclass(frozen=True)
class Limits:
    per_account: int
    per_address: int
    window: timedelta
    first_delay: float = 1.0  # seconds waited after the limit; doubles with each attempt


def limits_from(config) -> Limits:
    """The sign-in limits an app is configured with (``LOGIN_*`` settings)."""
    return Limits(
        per_account=config["LOGIN_FAILURES_PER_ACCOUNT"],
        per_address=config["LOGIN_FAILURES_PER_ADDRESS"],
        window=timedelta(minutes=config["LOGIN_WINDOW_MINUTES"]),
        first_delay=config["LOGIN_FIRST_DELAY_SECONDS"],
    )


@dataclass(frozen=True)
class Bucket:
    key: str
    limit: int
    doubling: bool  # False: paused until the window ends; True: a doubling wait


def buckets(email: str, address: str, limits: Limits) -> list[Bucket]:
    """Where an attempt from an unknown browser is counted."""
    return [
        Bucket(f"pair:{email}|{address}", limits.per_account, doubling=False),
        Bucket(f"account:{email}", limits.per_account, doubling=True),
        Bucket(f"address:{address}", limits.per_address, doubling=True),
    ]


def device_buckets(device: str, limits: Limits) -> list[Bucket]:
    """Where an attempt from a browser that signed in to the account before is counted."""
    return [Bucket(f"device:{device}", limits.per_account, doubling=False)]


def _reserve(session: Session, bucket: Bucket, limits: Limits, now: float) -> bool:
    """Count one attempt under ``bucket`` if it may go ahead; one atomic statement."""
    t = LoginThrottle.__table__
    window = limits.window.total_seconds()
    if bucket.doubling:
        # The count lapses after a window without attempts; the wait doubles meanwhile.
        expired = t.c.last_at <= now - window
        allowed = or_(expired, t.c.attempts < bucket.limit, t.c.wait_until <= now)
    else:
        # The count lapses a window after its first attempt; the pair waits until then.
        expired = t.c.first_at <= now - window
        allowed = or_(expired, t.c.attempts < bucket.limit)
    attempts = case((expired, 1), else_=t.c.attempts + 1)
    first_at = case((expired, now), else_=t.c.first_at)
    doubled = t.c.delay * 2
    delay = case(
        (expired | (attempts < bucket.limit), 0.0),
        (doubled < limits.first_delay, limits.first_delay),
        (doubled > window, window),
        else_=doubled,
    )
    if bucket.doubling:
        wait_until = case((attempts >= bucket.limit, now + delay), else_=0.0)
    else:
        wait_until = case((attempts >= bucket.limit, first_at + window), else_=0.0)
    over = bucket.limit <= 1
    first_delay = limits.first_delay if bucket.doubling else window
    statement = (
        upsert(session, LoginThrottle)
        .values(
            key=bucket.key,
            attempts=1,
            first_at=now,
            last_at=now,
            delay=limits.first_delay if over and bucket.doubling else 0.0,
            wait_until=now + first_delay if over else 0.0,
        )
        .on_conflict_do_update(
            index_elements=[t.c.key],
            set_={
                "attempts": attempts,
                "first_at": first_at,
                "last_at": literal(now),
                "delay": delay if bucket.doubling else literal(0.0),
                "wait_until": wait_until,
            },
            where=allowed,
        )
        .returning(t.c.attempts)
    )
    return session.execute(statement).first() is not None


def _release(session: Session, bucket: Bucket) -> None:
    """Take back one counted attempt (it was not a failure)."""
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == bucket.key, LoginThrottle.attempts > 0)
        .values(attempts=LoginThrottle.attempts - 1)
    )


def reserve(session: Session, found: list[Bucket], limits: Limits, now: datetime):
    """Count this attempt under every bucket before its password is checked. Returns None if
    it may go ahead, else the time to try again (and then counts nothing)."""
    stamp = now.timestamp()
    counted: list[Bucket] = []
    for bucket in found:
        if not _reserve(session, bucket, limits, stamp):
            for earlier in counted:
                _release(session, earlier)
            wait = session.scalar(
                select(LoginThrottle.wait_until).where(LoginThrottle.key == bucket.key)
            )
            return datetime.fromtimestamp(max(wait or stamp, stamp + 1), UTC)
        counted.append(bucket)
    session.flush()
    return None


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt: the buckets it was counted under, or, if it must wait, until when."""

    counted: list[Bucket]
    retry_at: datetime | None

    def wait_seconds(self, now: datetime) -> int:
        """Whole seconds to wait before trying again (at least one)."""
        assert self.retry_at is not None
        return max(1, math.ceil((self.retry_at - now).total_seconds()))


def count_attempt(
    session: Session, *, email: str, address: str, device: str | None, limits: Limits, now
) -> Attempt:
    """Count a sign-in attempt before its password is checked. A known ``device`` is counted
    on its own; one that failed too often, and any other browser, under the account, the
    address and the pair of them."""
    retry = None
    if device:
        counted = device_buckets(device, limits)
        retry = reserve(session, counted, limits, now)
    if not device or retry is not None:
        counted = buckets(email, address, limits)
        retry = reserve(session, counted, limits, now)
    return Attempt(counted, retry)


def wait_words(seconds: int) -> str:
    """A wait in words: "1 second", "40 seconds", "3 minutes"."""
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def may_send(session: Session, purpose: str, email: str, address: str, window, now) -> bool:
    """Whether an email for ``purpose`` may go to ``email``, asked for from ``address``: at
    most three to one address and twenty asked for from one network address per ``window``,
    so a form cannot be used to flood someone's inbox. Counts this one if so."""
    limits = Limits(per_account=3, per_address=20, window=window)
    found = [
        Bucket(f"{purpose}:{email}", 3, doubling=False),
        Bucket(f"{purpose}-from:{address}", 20, doubling=True),
    ]
    return reserve(session, found, limits, now) is None


def succeeded(session: Session, found: list[Bucket]) -> None:
    """A correct password: the account's and device's counts start again; the address keeps
    its other attempts but not this one."""
    for bucket in found:
        if bucket.key.startswith("address:"):
            _release(session, bucket)
        else:
            session.execute(delete(LoginThrottle).where(LoginThrottle.key == bucket.key))
    session.flush()


# Known devices --------------------------------------------------------------------------------


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="kb.device")


def _account(secret_key: str, email: str) -> str:
    return hmac.new(secret_key.encode(), email.encode(), hashlib.sha256).hexdigest()[:32]


def device_token(secret_key: str, email: str) -> str:
    """The signed value of the device cookie given to a browser that just signed in."""
    token = {"a": _account(secret_key, email), "d": secrets.token_urlsafe(16)}
    return _serializer(secret_key).dumps(token)


def known_device(secret_key: str, cookie: str | None, email: str, max_age: timedelta):
    """The device id in ``cookie`` if it is genuine, recent and for this account, else None."""
    if not cookie:
        return None
    try:
        token = _serializer(secret_key).loads(cookie, max_age=int(max_age.total_seconds()))
    except BadSignature:
        return None
    if not isinstance(token, dict) or token.get("a") != _account(secret_key, email):
        return None
    device = token.get("d")
    return device if isinstance(device, str) and device else None
