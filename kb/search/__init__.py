"""Search: the only code that touches Whoosh.

The database is the truth and the index a projection of it. Writes record which entries
changed in ``search_changes`` as they commit (``changes.py``); after a request that wrote, and
before every search, the index applies what it has not seen (``index.py``, ``sync.py``). If the
writer lock is busy the save does not wait long: whoever holds the lock applies everything
pending, and any search catches up what is left. An index that cannot be read is rebuilt in
the background while searches say so (``SearchUnavailable``), never a 500.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, g, render_template, request

from kb.search import changes  # noqa: F401 - registers the change-recording listeners
from kb.search.index import SearchIndex, SearchUnavailable
from kb.search.query import Synonyms

bp = Blueprint("search", __name__)
RETRY_AFTER_SECONDS = 30

__all__ = ["SearchIndex", "SearchUnavailable", "bp", "get_index", "get_synonyms", "init_app"]


def init_app(app: Flask) -> None:
    """Attach this app's index (opened lazily) and catch up after every request that wrote."""
    app.extensions["kb.search"] = _LazyIndex(app)
    app.extensions["kb.search.synonyms"] = Synonyms.load(Path(app.config["SYNONYMS_FILE"]))

    started = {"caught_up": False}

    @app.before_request
    def _catch_up_on_start() -> None:
        # A process starting after a crash applies what the index missed, whatever its
        # first request is.
        if not started["caught_up"]:
            started["caught_up"] = True
            _try_catch_up(app, timeout=0)

    @app.after_request
    def _catch_up(response: Response) -> Response:
        session = g.get("kb_session")
        if session is not None and session.info.pop("search_changed", False):
            _try_catch_up(app)
        return response

    @app.errorhandler(SearchUnavailable)
    def _unavailable(_error: SearchUnavailable):
        page = render_template("search/unavailable.html", text=request.args.get("q", "")[:300])
        return page, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def _try_catch_up(app: Flask, timeout: float | None = None) -> None:
    try:
        get_index().catch_up(timeout)
    except Exception:  # a save is already committed; the next search catches up
        app.logger.exception("Search index catch-up failed; it will be retried")


class _LazyIndex:
    """The index is opened (or built) on first use, not when the app is created, so that
    commands like ``kb db upgrade`` run before any index exists."""

    def __init__(self, app: Flask):
        self.app = app
        self.index: SearchIndex | None = None
        self._lock = threading.Lock()

    def get(self) -> SearchIndex:
        if self.index is not None:
            return self.index
        with self._lock:  # one index object per app, whichever request thread comes first
            if self.index is None:
                self.index = self._open()
        return self.index

    def _open(self) -> SearchIndex:
        from kb.db import db

        with self.app.app_context():
            engine = db.engine
        config = self.app.config
        return SearchIndex(
            Path(config["SEARCH_INDEX_DIR"]),
            engine,
            writer_timeout=config["SEARCH_WRITER_TIMEOUT"],
            repair_in_background=config["SEARCH_REPAIR_IN_BACKGROUND"],
            replica_ttl=timedelta(days=config["SEARCH_REPLICA_TTL_DAYS"]),
        )


def get_index() -> SearchIndex:
    return current_app.extensions["kb.search"].get()


def get_synonyms() -> Synonyms:
    return current_app.extensions["kb.search.synonyms"]


from kb.search import views  # noqa: E402,F401 - registers the routes
