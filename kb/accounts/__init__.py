"""Accounts: registration, signing in and out, and the account page."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

from kb.accounts import views  # noqa: E402,F401 - registers the routes
