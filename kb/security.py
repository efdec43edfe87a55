"""Security by default: CSRF on every state-changing request, security headers on every
response, bounded integers in URLs, and the check that keeps ``next`` redirects on this site."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

csrf = CSRFProtect()


def content_security_policy(image_hosts: tuple[str, ...] = ()) -> str:
    """The policy: nothing inline, images from Span and the configured image hosts only."""
    images = " ".join(["'self'", *(f"https://{host}" for host in image_hosts)])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


# The largest id or number any integer column holds (PostgreSQL's INTEGER); a larger one in a
# URL or form can name nothing, and would overflow the database driver.
MAX_INTEGER = 2**31 - 1


class BoundedInteger(IntegerConverter):
    """``<int:...>`` in every route: ASCII digits up to ``MAX_INTEGER``; anything else is a
    404 before the view runs."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits, min, MAX_INTEGER if max is None else max, signed)


def whole_number(value: str | None) -> int | None:
    """A non-negative integer from a query or form value, or None if it is not one (or too
    large for the database)."""
    value = (value or "").strip()
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if number <= MAX_INTEGER else None


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (never another host or scheme)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ch in target for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def init_app(app: Flask) -> None:
    """Before any blueprint is registered, so every integer route uses the bounded converter."""
    app.url_map.converters["int"] = BoundedInteger
    csrf.init_app(app)
    headers = {
        "Content-Security-Policy": content_security_policy(app.config["IMAGE_HOSTS"]),
        **HEADERS,
    }

    @app.after_request
    def _add_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        if current_user and current_user.is_authenticated:
            # Pages for a signed-in person may show drafts; no shared cache may keep them.
            response.headers["Cache-Control"] = "no-store"
        return response
