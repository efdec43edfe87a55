"""Span: a cross-sector practice-sharing knowledge base for public bodies."""

from __future__ import annotations

from flask import Flask

from kb import config as kb_config
from kb.config import ROOT


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application: config, then each resource's init_app, then blueprints."""
    instance = kb_config.instance_path()
    app = Flask(
        __name__,
        instance_path=str(instance),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(kb_config.load(instance, test_config))
    kb_config.finalise(app)

    from kb import (
        caching,
        errors,
        follows,
        notifications,
        request_ids,
        search,
        security,
        templating,
    )
    from kb.accounts import sessions
    from kb.db import db

    request_ids.init_app(app)
    db.init_app(app)
    search.init_app(app)
    notifications.init_app(app)
    follows.init_app(app)
    sessions.init_app(app)
    security.init_app(app)
    caching.init_app(app)
    templating.init_app(app)
    errors.init_app(app)

    from kb.accounts import bp as accounts_bp
    from kb.admin import bp as admin_bp
    from kb.borrowing import bp as borrowing_bp
    from kb.browse import bp as browse_bp
    from kb.entries import bp as entries_bp
    from kb.feeds import bp as feeds_bp
    from kb.follows import bp as follows_bp
    from kb.health import bp as health_bp
    from kb.notifications import bp as notifications_bp
    from kb.orgs import bp as orgs_bp
    from kb.search import bp as search_bp

    blueprints = (browse_bp, search_bp, entries_bp, borrowing_bp, orgs_bp, accounts_bp, admin_bp,
                  feeds_bp, follows_bp, notifications_bp, health_bp)  # fmt: skip
    for blueprint in blueprints:
        app.register_blueprint(blueprint)

    from kb import cli

    cli.init_app(app)
    return app
