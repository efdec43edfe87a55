"""Security by default: CSRF on every state-changing request, security headers on every
response, and the check that keeps ``next`` redirects on this site."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

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
