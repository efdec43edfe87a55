"""Template globals and filters shared by every page."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import urlencode

from flask import Flask, g, render_template, request, url_for
from sqlalchemy import exists, select
from sqlalchemy.exc import OperationalError

from kb import permissions
from kb.caching import versions
from kb.db import db
from kb.licences import LICENCES
from kb.models import Organisation
from kb.rendering import marked
from kb.vocabulary import PastTheLastPage


def _today() -> date:
    return datetime.now(UTC).date()


def _format_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return f"{value.day} {value:%B %Y}"


# The query parameters listing and search pages read. Links keep these and nothing else, and
# add them as a query string, never as ``url_for`` arguments: a parameter named ``endpoint``,
# ``_anchor`` or like a URL argument (``slug``) would otherwise change or break the link.
LINK_PARAMETERS = (
    "q", "origin", "sector", "channel", "topic", "kind", "organisation", "borrowed", "archived",
    "sort", "page",
)  # fmt: skip


def url_with(**changes) -> str:
    """The current page's URL keeping its known query parameters, with ``changes`` (a value,
    a list of values, or None to drop the parameter)."""
    args = {name: request.args.getlist(name) for name in request.args if name in LINK_PARAMETERS}
    for name, value in changes.items():
        args[name] = [] if value is None else list(value) if isinstance(value, list) else [value]
    pairs = [(name, value) for name, values in args.items() for value in values]
    query = urlencode(pairs, safe="!$'()*,/:;?@")  # as url_for encodes a query
    path = url_for(request.endpoint, **(request.view_args or {}))
    return f"{path}?{query}" if query else path


def url_without(name: str, value: str) -> str:
    """The current URL with one value of a repeated query argument removed; page resets."""
    return url_with(page=None, **{name: [v for v in request.args.getlist(name) if v != value]})


def feed_url(endpoint: str, **view_args) -> str:
    """The Atom feed at ``endpoint`` for the current page: the same filters, without the sort
    and page (a feed is always newest first, and holds the first 50)."""
    pairs = [(name, value) for name in LINK_PARAMETERS if name not in {"sort", "page"}
             for value in request.args.getlist(name)]  # fmt: skip
    path = url_for(endpoint, **view_args)
    query = urlencode(pairs, safe="!$'()*,/:;?@")
    return f"{path}?{query}" if query else path


def url_page(number: int) -> str:
    """The current URL at another page of results."""
    return url_with(page=str(number) if number > 1 else None)


def _any_sample() -> bool:
    return bool(db.session.scalar(select(exists().where(Organisation.is_sample))))


def _past_the_last_page(error: PastTheLastPage):
    return render_template("errors/past_last_page.html", pages=error.pages), 404


def init_app(app: Flask) -> None:
    app.jinja_env.filters["date"] = _format_date
    app.jinja_env.filters["marked"] = marked
    app.jinja_env.globals.update(
        today=_today,
        url_with=url_with,
        url_without=url_without,
        url_page=url_page,
        feed_url=feed_url,
        permissions=permissions,
        licences=LICENCES,
    )
    app.register_error_handler(PastTheLastPage, _past_the_last_page)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def _site() -> dict:
        def has_sample_content() -> bool:
            if g.get("database_unavailable"):
                return False
            try:
                return versions.kept(db.session, "has_sample_content", _any_sample)
            except OperationalError:  # an error page while the database is away
                g.database_unavailable = True
                return False

        return {"has_sample_content": has_sample_content}
