"""Configuration: defaults, ``KB_*`` environment overrides and the instance folder.

Precedence, lowest first: the defaults below, ``instance/secret_key`` (written by ``make run``),
``KB_*`` environment variables, then the ``test_config`` mapping passed to ``create_app``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - the refused placeholder


class UnsafeConfigError(RuntimeError):
    """Raised at start-up when the configuration is unsafe outside debug mode."""


def instance_path() -> Path:
    """The folder for the database, secret key and search index."""
    return Path(os.environ.get("KB_INSTANCE_PATH", ROOT / "instance")).resolve()


def load(instance: Path, test_config: dict | None) -> dict:
    """Build the configuration mapping for one app."""
    config: dict = {
        "SECRET_KEY": DEFAULT_SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{instance / 'kb.sqlite'}",
        "SEED_DIR": str(ROOT / "seed_data"),
        "MIGRATIONS_DIR": str(ROOT / "migrations"),
        "ENTRIES_PER_PAGE": 20,
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "SECURE_COOKIES": None,  # None: Secure everywhere except debug mode
        # An edit can take longer than an hour, so the CSRF token lives as long as the session.
        "WTF_CSRF_TIME_LIMIT": None,
        "PASSWORD_HASH_METHOD": "scrypt",
        "REMEMBER_DAYS": 30,
        "SIGN_IN_HOURS": 12,
        "LOGIN_FAILURES_PER_ACCOUNT": 5,
        "LOGIN_FAILURES_PER_ADDRESS": 20,
        "LOGIN_WINDOW_MINUTES": 15,
        "LOGIN_FIRST_DELAY_SECONDS": 1.0,  # the wait once over a limit; doubles each attempt
        "DEVICE_DAYS": 180,  # how long a browser that signed in counts as a known device
        "TRUSTED_PROXIES": 0,
        "SEARCH_INDEX_DIR": str(instance / "search"),
        "SYNONYMS_FILE": str(ROOT / "seed_data" / "synonyms.yaml"),
        # How long a save waits for the index's writer lock before leaving its change to
        # whoever holds it (the change is in the database either way).
        "SEARCH_WRITER_TIMEOUT": 0.5,
        "SEARCH_RESULTS_PER_PAGE": 20,
        # A missing, damaged or outdated index is rebuilt in a background thread while
        # searches say "catching up"; the command line rebuilds in the foreground.
        "SEARCH_REPAIR_IN_BACKGROUND": True,
        # A replica (an index folder on one host) unseen for this long no longer holds back
        # pruning of the change log; when it returns it rebuilds itself.
        "SEARCH_REPLICA_TTL_DAYS": 7,
        # Hosts entry images may load from besides Span itself (https only); none by default,
        # so a contributor cannot see who reads an entry. Other images show as links.
        "IMAGE_HOSTS": (),
        # Email (kb/mail.py): an SMTP URL, or unset to write each message under MAIL_DIR.
        "MAIL_URL": "",
        "MAIL_FROM": "Span <span@localhost>",
        "MAIL_DIR": str(instance / "mail"),
        "PASSWORD_RESET_MINUTES": 30,
        # One log line per request (method, path, status, duration, request id); off where
        # the server writes its own access log in that shape (gunicorn.conf.py).
        "REQUEST_LOG": True,
        # /healthz answers 503 once the search index is this far behind the database.
        "HEALTH_MAX_INDEX_LAG_SECONDS": 300,
        # The site's own address, for links in emails (sent when no request is being served).
        "SITE_URL": "http://127.0.0.1:5000",
        # The running site delivers queued email from a background thread in each process;
        # `kb send-mail` does the same from the command line.
        "MAIL_SEND_IN_BACKGROUND": True,
        "MAIL_POLL_SECONDS": 30,
        # How long a sender may take over a message before another may try it.
        "MAIL_CLAIM_SECONDS": 120,
        # Public pages for anonymous readers (kb/caching/): how long a browser or proxy may
        # keep one without asking again; rendered pages shared by the workers, on disk
        # (default: beside the search index), at most this many per catalogue version.
        "PAGE_CACHE": True,
        "PAGE_CACHE_SECONDS": 60,
        "PAGE_CACHE_DIR": None,
        "PAGE_CACHE_MAX_PAGES": 5000,
        "PAGE_CACHE_MAX_PAGE_BYTES": 1024 * 1024,
        # An entry page whose "Related across sectors" is missing or stale is shown at once
        # (with the stale list, or none) while a background thread works the list out.
        "RELATED_IN_BACKGROUND": True,
    }
    key_file = instance / "secret_key"
    if key_file.is_file():
        config["SECRET_KEY"] = key_file.read_text().strip()
    env = {
        "KB_SECRET_KEY": "SECRET_KEY",
        "KB_DATABASE_URL": "DATABASE_URL",
        "KB_SEED_DIR": "SEED_DIR",
        "KB_SEARCH_INDEX_DIR": "SEARCH_INDEX_DIR",
        "KB_SITE_URL": "SITE_URL",
        "KB_MAIL_URL": "MAIL_URL",
        "KB_MAIL_FROM": "MAIL_FROM",
        "KB_PAGE_CACHE_DIR": "PAGE_CACHE_DIR",
    }
    for var, key in env.items():
        if os.environ.get(var):
            config[key] = os.environ[var]
    if os.environ.get("KB_IMAGE_HOSTS", "").strip():
        config["IMAGE_HOSTS"] = os.environ["KB_IMAGE_HOSTS"].split(",")
    if os.environ.get("KB_TRUSTED_PROXIES", "").isdigit():
        config["TRUSTED_PROXIES"] = int(os.environ["KB_TRUSTED_PROXIES"])
    if os.environ.get("KB_SECURE_COOKIES") in {"0", "1"}:
        config["SECURE_COOKIES"] = os.environ["KB_SECURE_COOKIES"] == "1"
    if os.environ.get("KB_REQUEST_LOG") in {"0", "1"}:
        config["REQUEST_LOG"] = os.environ["KB_REQUEST_LOG"] == "1"
    if os.environ.get("KB_PAGE_CACHE") in {"0", "1"}:
        config["PAGE_CACHE"] = os.environ["KB_PAGE_CACHE"] == "1"
    if os.environ.get("KB_HEALTH_MAX_INDEX_LAG", "").isdigit():
        config["HEALTH_MAX_INDEX_LAG_SECONDS"] = int(os.environ["KB_HEALTH_MAX_INDEX_LAG"])
    config.update(test_config or {})
    return config


HOST_NAME = re.compile(
    r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)


def image_hosts(values) -> tuple[str, ...]:
    """Host names for images, lower-cased; anything else (a scheme, a path, a space that
    would change the Content-Security-Policy) refuses to start."""
    hosts = tuple(dict.fromkeys(str(value).strip().lower() for value in values if value.strip()))
    bad = [host for host in hosts if not HOST_NAME.fullmatch(host)]
    if bad:
        raise UnsafeConfigError(
            f"IMAGE_HOSTS must be host names like images.example.org, not {', '.join(bad)}"
        )
    return hosts


def finalise(app) -> None:
    """Derive settings that depend on debug mode and refuse unsafe production config."""
    secure = app.config["SECURE_COOKIES"]
    if secure is None:
        secure = not app.debug
    app.config["SESSION_COOKIE_SECURE"] = secure
    app.config["REMEMBER_COOKIE_SECURE"] = secure
    app.config["IMAGE_HOSTS"] = image_hosts(app.config["IMAGE_HOSTS"])
    if not app.config["PAGE_CACHE_DIR"]:
        app.config["PAGE_CACHE_DIR"] = str(Path(app.config["SEARCH_INDEX_DIR"]).parent / "pages")
    if app.config["REMEMBER_DAYS"] > 30:
        raise UnsafeConfigError("REMEMBER_DAYS may be at most 30.")
    if app.config["TRUSTED_PROXIES"]:
        # Behind N reverse proxies, take the client address (for throttling) from X-Forwarded-For.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    if app.config["SECRET_KEY"] == DEFAULT_SECRET_KEY and not (app.debug or app.testing):
        raise UnsafeConfigError(
            "Refusing to start: SECRET_KEY is the built-in development value. "
            "Set KB_SECRET_KEY, or run 'make run', which writes instance/secret_key."
        )
