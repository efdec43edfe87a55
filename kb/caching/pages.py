"""HTTP caching of public pages for anonymous readers.

An anonymous ``GET`` of a public page (home, listings, organisations, an entry, search) gets
validators derived from the catalogue's version (``ETag``, ``Last-Modified``), answers ``304``
when the browser or proxy already holds that version, and is served from the shared page store
when another worker has rendered it since the catalogue last changed. ``Cache-Control`` lets a
reverse proxy keep such a page for ``PAGE_CACHE_SECONDS``; ``Vary: Cookie`` keeps it from
serving that copy to anyone signed in.

A request counts as anonymous only if it carries neither the session nor the remember-me
cookie, and a page is stored only if its answer sets no cookie, so nothing personal (a name, a
draft, a form token, a flashed message) can reach the store. Signed-in pages stay ``no-store``
(``kb/security.py``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, Response, current_app, g, request
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from kb.caching import versions
from kb.caching.store import PageStore
from kb.db import db, utcnow
from kb.models import SearchChange

# Pages anyone may read whose content depends only on the catalogue and the address.
PUBLIC_PAGES = frozenset({
    "browse.home", "browse.about", "browse.sectors", "browse.sector", "browse.channels",
    "browse.channel", "browse.topics", "browse.topic", "orgs.index", "orgs.show",
    "entries.show", "entries.history", "search.results", "borrowing.overview",
    "borrowing.between", "borrowing.lineage",
})  # fmt: skip
STORE = "kb.caching.store"
SETTLED = timedelta(seconds=2)


@dataclass(frozen=True)
class Generation:
    etag: str
    changed_at: datetime


def init_app(app: Flask) -> None:
    app.extensions[STORE] = PageStore(
        app.config["PAGE_CACHE_DIR"], max_pages=app.config["PAGE_CACHE_MAX_PAGES"],
        max_page_bytes=app.config["PAGE_CACHE_MAX_PAGE_BYTES"],
        seconds=app.config["PAGE_CACHE_SECONDS"] * 5,
    )  # fmt: skip
    # Which site and release rendered a page; keyed with the secret, since the database's
    # address may hold a password.
    key = app.config["SECRET_KEY"]
    site = hmac.new(
        key if isinstance(key, bytes) else key.encode(),
        f"{app.config['DATABASE_URL']}|{app.config['CODE_VERSION']}".encode(),
        hashlib.sha256,
    ).hexdigest()[:12]
    app.before_request(lambda: _before(site))
    app.after_request(_after)


def store() -> PageStore:
    return current_app.extensions[STORE]


def dont_store() -> None:
    """Keep this request's page out of every cache: it is not the whole page yet."""
    g.kb_incomplete = True


def anonymous_request() -> bool:
    cookies = request.cookies
    return (
        current_app.config["SESSION_COOKIE_NAME"] not in cookies
        and current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") not in cookies
    )


def _cacheable() -> bool:
    return (
        current_app.config["PAGE_CACHE"]
        and request.method in ("GET", "HEAD")
        and request.endpoint in PUBLIC_PAGES
        and anonymous_request()
    )


def _address() -> str:
    return request.full_path if request.query_string else request.path


def _before(site: str) -> Response | None:
    if not _cacheable():
        return None
    version, changed_at = versions.current(db.session)
    if version == 0:
        return None
    g.kb_catalogue_version = version  # for the rest of this request (``versions.current_version``)
    stamp = changed_at.strftime("%Y%m%d%H%M%S%f")
    generation = Generation(f"{site}-{version}-{stamp}", changed_at)
    g.kb_generation = generation
    if generation.etag in request.if_none_match or _not_modified_since(changed_at):
        return _headers(Response(status=304), generation)
    found = store().get(generation.etag, _address()) if request.method == "GET" else None
    if found is None:
        return None
    content_type, body = found
    g.kb_served_from_store = True
    return Response(body, content_type=content_type)


def _settled(changed_at: datetime) -> bool:
    """Whether no later version can still fall in the same second as this one.
    ``Last-Modified`` counts whole seconds, so a date is given (and ``If-Modified-Since``
    trusted) only once that second is well past."""
    return utcnow() - changed_at > SETTLED


def _not_modified_since(changed_at: datetime) -> bool:
    since = request.if_modified_since
    if since is None or request.if_none_match or not _settled(changed_at):
        return False
    return changed_at.replace(microsecond=0) <= since


def _headers(response: Response, generation: Generation) -> Response:
    response.set_etag(generation.etag)
    if _settled(generation.changed_at):
        response.last_modified = generation.changed_at
    seconds = current_app.config["PAGE_CACHE_SECONDS"]
    response.headers["Cache-Control"] = f"public, max-age={seconds}"
    response.vary.add("Cookie")
    return response


def _after(response: Response) -> Response:
    generation: Generation | None = g.pop("kb_generation", None)
    if generation is None or response.status_code == 304:
        return response
    personal = "Set-Cookie" in response.headers or current_user.is_authenticated
    if personal or response.status_code != 200:
        return response
    if not g.pop("kb_served_from_store", False) and request.method == "GET":
        if g.pop("kb_incomplete", False) or not _complete():
            response.headers["Cache-Control"] = "no-cache"
            return response
        store().put(generation.etag, _address(), response.content_type, response.get_data())
    return _headers(response, generation)


def _complete() -> bool:
    """Whether the page shows the catalogue as of its generation: search results come from
    the index, which may not yet have applied the change that started the generation. Read on
    the request's own connection (a second one might not be free), and any failure to find
    out counts as no."""
    if request.endpoint != "search.results":
        return True
    from kb.search import get_index

    try:
        latest = db.session.connection().scalar(select(func.max(SearchChange.id))) or 0
        return get_index().applied() >= latest
    except (SQLAlchemyError, OSError):
        current_app.logger.warning("Not storing a search page: its index state is unknown")
        return False
