"""Server-side sign-in sessions behind Flask-Login.

The id Flask-Login keeps in the session and remember cookies is a random token naming a row in
``user_sessions``. Signing out deletes that row and a password change deletes all of the user's
rows, so a copied or replayed cookie stops working at once, in every worker process.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import Flask, current_app, session
from flask_login import LoginManager, login_user
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kb.db import db, utcnow
from kb.models import User, UserSession

login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User, *, lifetime: timedelta, now: datetime) -> str:
    """Record a new signed-in browser for ``user``; returns the token for Flask-Login."""
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(token_hash=_hash(token), user=user, created_at=now, expires_at=now + lifetime)
    )
    session.flush()
    user.session_token = token
    return token


def end_session(session: Session, token: str | None) -> None:
    """Forget one signed-in browser."""
    if token:
        session.execute(delete(UserSession).where(UserSession.token_hash == _hash(token)))


def end_all_sessions(session: Session, user: User) -> None:
    """Sign ``user`` out everywhere (after a password change, say)."""
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))


def load_user(session: Session, token: str, now: datetime) -> User | None:
    """The user a cookie's token names, if that session still exists and has not expired."""
    row = session.scalar(
        select(UserSession).where(
            UserSession.token_hash == _hash(token), UserSession.expires_at > now
        )
    )
    if row is None:
        return None
    user = row.user
    user.session_token = token
    return user


def sign_in_browser(user: User, remember: bool) -> None:
    """Sign the current browser in as ``user``: a fresh server-side session and a fresh cookie
    (against session fixation), lasting a sign-in or, with ``remember``, ``REMEMBER_DAYS``."""
    config = current_app.config
    lifetime = (
        timedelta(days=config["REMEMBER_DAYS"])
        if remember
        else timedelta(hours=config["SIGN_IN_HOURS"])
    )
    session.clear()
    start_session(db.session, user, lifetime=lifetime, now=utcnow())
    login_user(user, remember=remember, duration=timedelta(days=config["REMEMBER_DAYS"]))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.config.setdefault("REMEMBER_COOKIE_DURATION", timedelta(days=app.config["REMEMBER_DAYS"]))

    @login_manager.user_loader
    def _load(token: str) -> User | None:
        return load_user(db.session, token, utcnow())
