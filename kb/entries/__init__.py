"""Entries: case studies and guidance, reading, writing and their history."""

from flask import Blueprint

bp = Blueprint("entries", __name__, url_prefix="/entries")

from kb.entries import edit_views, history_views, views  # noqa: E402,F401 - registers routes
