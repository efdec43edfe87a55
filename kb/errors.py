"""Error pages. No traceback ever reaches a reader; a failed request rolls its session back."""

from __future__ import annotations

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException, InternalServerError

from kb.db import db

MESSAGES = {
    400: ("Bad request", "Something in that request was not right. Please go back and try again."),
    403: ("Not allowed", "You do not have permission to do that."),
    404: (
        "Page not found",
        "There is no page at this address. It may have been moved, or the link may be wrong.",
    ),
    405: ("Not allowed", "That kind of request is not accepted at this address."),
    413: ("Too large", "What you sent is larger than Span accepts."),
    500: (
        "Something went wrong",
        "Span hit a problem it could not recover from. Nothing you saved has been lost; "
        "please try again in a moment.",
    ),
}


def _page(code: int):
    title, message = MESSAGES.get(code, (f"Error {code}", "The request could not be completed."))
    return render_template("errors/error.html", code=code, title=title, message=message), code


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        if error.code >= 500:
            db.session.rollback()
        return _page(error.code)

    @app.errorhandler(InternalServerError)
    def _server_error(error: InternalServerError):
        db.session.rollback()
        app.logger.error("Unhandled error: %s", error.original_exception or error)
        return _page(500)
