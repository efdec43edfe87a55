"""Entries: case studies and guidance, one page each."""

from flask import Blueprint

bp = Blueprint("entries", __name__, url_prefix="/entries")

from kb.entries import views  # noqa: E402,F401 - registers the routes
