"""Error pages. No traceback ever reaches a reader; a failed request rolls its session back.

A form that cannot be accepted (its CSRF token is missing or stale, or the person was signed
out meanwhile) still shows back whatever text was typed, so nothing is lost. While the
database cannot be reached (restarting, say) pages answer 503 "briefly unavailable"; a value
the database refuses gets the same message whichever database refused it.
"""

from __future__ import annotations

from flask import Flask, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from kb.accounts.sessions import login_manager
from kb.db import db
from kb.rendering import RenderRefused

MESSAGES = {
    400: ("Bad request", "Something in that request was not right. Please go back and try again."),
    401: ("Please sign in", "You need to sign in to do that."),
    403: ("Not allowed", "You do not have permission to do that."),
    404: (
        "Page not found",
        "There is no page at this address. It may have been moved, or the link may be wrong.",
    ),
    405: ("Not allowed", "That kind of request is not accepted at this address."),
    413: ("Too large", "What you sent is larger than Span accepts."),
    503: (
        "Briefly unavailable",
        "Span cannot reach its database just now. Nothing you saved before has been lost; "
        "please try again in a minute.",
    ),
    500: (
        "Something went wrong",
        "Span hit a problem it could not recover from. Nothing you saved has been lost; "
        "please try again in a moment.",
    ),
}
RETRY_AFTER_SECONDS = 10
TOO_LONG = (
    "Something you entered is longer than Span can store, so nothing was saved. Shorten it "
    "and try again; any text you typed is below to copy."
)
REFUSED = (
    "Span could not store that as it was (it clashes with something saved a moment ago, or "
    "breaks one of the catalogue's rules), so nothing was saved. Any text you typed is below "
    "to copy."
)
# Form fields worth giving back to someone whose submission could not be accepted.
TEXT_FIELDS = (
    ("title", "Title"),
    ("summary", "Summary"),
    ("body", "Text"),
    ("edit_summary", "Edit summary"),
)


def _page(code: int, message: str | None = None):
    title, default = MESSAGES.get(code, (f"Error {code}", "The request could not be completed."))
    return (
        render_template(
            "errors/error.html",
            code=code,
            title=title,
            message=message or default,
            kept=_kept_text(),
        ),
        code,
    )


def _kept_text() -> list[tuple[str, str]]:
    if request.method != "POST":
        return []
    try:
        form = request.form
    except HTTPException:  # the body itself was refused (too large, say)
        return []
    return [(label, form[name]) for name, label in TEXT_FIELDS if form.get(name)]


def refusal_message(error: StatementError) -> str:
    """What to tell someone whose save the database refused: the same words on SQLite (a
    failed CHECK, an IntegrityError) and PostgreSQL (a value too long for its column, a
    DataError)."""
    original = getattr(error, "orig", None)
    too_long = getattr(original, "sqlstate", None) == "22001" or "_length" in str(original)
    return TOO_LONG if too_long else REFUSED


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # the connection is gone; the session is discarded with the request
        g.pop("kb_session", None)


def init_app(app: Flask) -> None:
    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def _database_unavailable(error: Exception):
        # Nothing more may touch the database for this response: not the person's account
        # (Flask-Login would try again), not the sample-content notice.
        g.database_unavailable = True
        g._login_user = login_manager.anonymous_user()
        _rollback()
        app.logger.error("Database unavailable: %s", error)
        page, code = _page(503)
        return page, code, {"Retry-After": str(RETRY_AFTER_SECONDS)}

    @app.errorhandler(IntegrityError)
    @app.errorhandler(DataError)
    def _refused(error: StatementError):
        # Forms check lengths and choices first; this is the last line, never a 500.
        _rollback()
        app.logger.warning("The database refused a write: %s", error.orig)
        return _page(400, refusal_message(error))

    @app.errorhandler(CSRFError)
    def _csrf_error(_error: CSRFError):
        return _page(
            400,
            "This form had expired, or you were signed out while filling it in, so it was not "
            "saved. Sign in again and resubmit it; any text you typed is below to copy.",
        )

    @app.errorhandler(RenderRefused)
    def _unrenderable(error: RenderRefused):
        # Forms check their text first; this catches a text refused on its way to be saved.
        db.session.rollback()
        return _page(400, f"{error} Nothing was saved; any text you typed is below to copy.")

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        if error.code >= 500:
            _rollback()
        return _page(error.code)

    @app.errorhandler(InternalServerError)
    def _server_error(error: InternalServerError):
        _rollback()
        app.logger.error("Unhandled error: %s", error.original_exception or error)
        return _page(500)

    @login_manager.unauthorized_handler
    def _unauthorized():
        if request.method == "GET":
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        return _page(
            401,
            "You were signed out, so this was not saved. Sign in again and "
            "resubmit it; any text you typed is below to copy.",
        )
