"""Site administration: organisation requests, roles and the taxonomy."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from kb.admin import taxonomy, views  # noqa: E402,F401 - registers the routes
