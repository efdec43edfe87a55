"""Atom feeds of Span's listings, searches and entry histories (``views.py``)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("feeds", __name__)

from kb.feeds import views  # noqa: E402,F401 - registers the routes
