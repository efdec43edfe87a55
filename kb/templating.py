"""Template globals and filters shared by every page."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Flask, request, url_for
from sqlalchemy import exists, select

from kb import permissions
from kb.db import db
from kb.licences import LICENCES
from kb.models import Organisation


def _today() -> date:
    return datetime.now(UTC).date()


def _format_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return f"{value.day} {value:%B %Y}"


def url_without(name: str, value: str) -> str:
    """The current URL with one value of a repeated query argument removed; page resets."""
    args = request.args.to_dict(flat=False)
    args.pop("page", None)
    args[name] = [v for v in args.get(name, []) if v != value]
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def url_page(number: int) -> str:
    """The current URL at another page of results."""
    args = request.args.to_dict(flat=False)
    args["page"] = [str(number)] if number > 1 else []
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["date"] = _format_date
    app.jinja_env.globals.update(
        today=_today,
        url_without=url_without,
        url_page=url_page,
        permissions=permissions,
        licences=LICENCES,
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def _site() -> dict:
        def has_sample_content() -> bool:
            return bool(db.session.scalar(select(exists().where(Organisation.is_sample))))

        return {"has_sample_content": has_sample_content}
