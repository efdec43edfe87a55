"""Accounts: registration, signing in and out, a forgotten password, and the account page."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

from kb.accounts import recovery_views, views  # noqa: E402,F401 - registers the routes
