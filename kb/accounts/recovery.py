"""Password reset links and the emails about an account.

A reset link carries a signed token naming the account and a fingerprint of its current
password hash: it expires after ``PASSWORD_RESET_MINUTES``, and the moment the password changes
(by this link or any other way) every link issued before stops working, so each is single-use
without a table of tokens.

Registering says the same thing whether or not the address already has an account: the owner
of an existing account is told by email instead, so nobody learns who is registered.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import timedelta
from email.message import EmailMessage

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from kb.mail import compose
from kb.models import User


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="kb.password-reset")


def _fingerprint(secret_key: str, user: User) -> str:
    current = (user.password_hash or "").encode()
    return hmac.new(secret_key.encode(), current, hashlib.sha256).hexdigest()[:24]


def reset_token(secret_key: str, user: User) -> str:
    """The token for ``user``'s reset link."""
    return _serializer(secret_key).dumps({"u": user.id, "p": _fingerprint(secret_key, user)})


def user_for_token(
    session: Session, secret_key: str, token: str, max_age: timedelta
) -> User | None:
    """The account a reset token is for, if it is genuine, recent and not yet used."""
    try:
        data = _serializer(secret_key).loads(token, max_age=int(max_age.total_seconds()))
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = session.get(User, data["u"])
    if user is None or not hmac.compare_digest(str(data.get("p")), _fingerprint(secret_key, user)):
        return None
    return user


# The emails -----------------------------------------------------------------------------------

SIGNATURE = "\n\nSpan, the knowledge base of public bodies' case studies and guidance."


def welcome(config: Mapping, user: User, *, sign_in: str) -> EmailMessage:
    body = (
        f"Hello {user.display_name},\n\nYour Span account for {user.email} is ready. Sign in "
        f"here:\n\n{sign_in}\n\nIf you did not create it, ignore this message; nobody can "
        "write anything as you without the password that was chosen." + SIGNATURE
    )
    return compose(config, to=user.email, subject="Your Span account", body=body)


def already_registered(config: Mapping, user: User, *, sign_in: str, reset: str) -> EmailMessage:
    body = (
        f"Hello {user.display_name},\n\nSomeone tried to create a Span account with this "
        f"address, which already has one. If it was you, sign in here:\n\n{sign_in}\n\nor, if "
        f"you have forgotten your password, choose a new one here:\n\n{reset}\n\nIf it was "
        "not you, you can ignore this message: nothing has changed." + SIGNATURE
    )
    return compose(config, to=user.email, subject="Your Span account", body=body)


def reset_link(config: Mapping, user: User, *, link: str) -> EmailMessage:
    minutes = config["PASSWORD_RESET_MINUTES"]
    body = (
        f"Hello {user.display_name},\n\nTo choose a new password for your Span account, open "
        f"this link within {minutes} minutes:\n\n{link}\n\nIt works once. Choosing a new "
        "password signs you out on every other device.\n\nIf you did not ask for this, ignore "
        "this message: your password has not changed." + SIGNATURE
    )
    return compose(config, to=user.email, subject="Choose a new Span password", body=body)
