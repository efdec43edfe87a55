"""Organisations: the public bodies that publish in Span."""

from flask import Blueprint

bp = Blueprint("orgs", __name__, url_prefix="/orgs")

from kb.orgs import members, profile, views  # noqa: E402,F401 - registers the routes
