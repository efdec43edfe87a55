"""Browsing the catalogue: the home page, sectors, channels and topics."""

from flask import Blueprint

bp = Blueprint("browse", __name__)

from kb.browse import views  # noqa: E402,F401 - registers the routes
