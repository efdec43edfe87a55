"""``/healthz`` for load balancers and monitoring.

It answers 200 when this process can serve: the database answers, and this host's search index
exists, is sound and is at most ``HEALTH_MAX_INDEX_LAG_SECONDS`` behind the change log; else
503 with the reasons. The body is JSON: the index's lag in changes and in seconds (the age of
the oldest change it has not applied) and its generation.

It costs two small indexed queries and a directory listing, and writes nothing. An index that
lags is caught up as a search would do it first, in a background thread, so a host that gets
no other traffic still follows the log.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from flask import Blueprint, current_app, jsonify
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from kb.db import utcnow
from kb.models import SearchChange
from kb.search import SearchIndex, get_index

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
_catching_up: dict[int, threading.Thread] = {}
_lock = threading.Lock()


@bp.get("/healthz")
def healthz():
    report = check(get_index(), current_app.config["HEALTH_MAX_INDEX_LAG_SECONDS"])
    response = jsonify(report)
    response.status_code = 200 if report["status"] == "ok" else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def check(index: SearchIndex, max_lag_seconds: float) -> dict:
    """The health report for ``index`` and its database."""
    problems: list[str] = []
    search: dict = {"problem": index.problem()}
    folder = index.live_folder()
    applied = index.applied(folder) if folder is not None else 0
    try:
        with index.engine.connect() as connection:
            latest = connection.scalar(select(func.max(SearchChange.id))) or 0
            lag, oldest = connection.execute(
                select(func.count(), func.min(SearchChange.recorded_at)).where(
                    SearchChange.id > applied
                )
            ).one()
    except SQLAlchemyError as error:
        current_app.logger.warning("Health check: the database did not answer: %s", error)
        return {"status": "unavailable", "problems": ["the database cannot be reached"],
                "database": "unreachable"}  # fmt: skip
    lag_seconds = _age(oldest)
    search.update(applied=applied, latest=latest, lag_changes=lag, lag_seconds=lag_seconds)
    if search["problem"]:  # its lag says nothing more: a missing index lags everything
        problems.append(search["problem"])
    else:
        try:
            name, generation, *_drafts = index.readers.generation(folder, None)
            search.update(folder=name, generation=generation)
        except OSError as error:
            problems.append(f"the search index cannot be listed ({error.strerror or error})")
        if lag_seconds > max_lag_seconds:
            problems.append(f"the search index is {lag_seconds:.0f} s behind the database")
    if lag and not search["problem"]:
        _catch_up_in_background(index)
    return {
        "status": "unavailable" if problems else "ok",
        "problems": problems,
        "database": "ok",
        "search": search,
    }


def _age(oldest: datetime | None) -> float:
    return 0.0 if oldest is None else round(max(0.0, (utcnow() - oldest).total_seconds()), 1)


def _catch_up_in_background(index: SearchIndex) -> None:
    with _lock:
        running = _catching_up.get(id(index))
        if running is not None and running.is_alive():
            return
        thread = threading.Thread(
            target=_catch_up, args=(index,), name="span-health-catch-up", daemon=True
        )
        _catching_up[id(index)] = thread
        thread.start()


def _catch_up(index: SearchIndex) -> None:
    try:
        index.catch_up(timeout=0)
    except Exception:  # the next search or save tries again
        log.warning("Search index catch-up after a health check failed", exc_info=True)
