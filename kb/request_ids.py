"""Request ids and the request log.

Every request gets an id: a fresh one, or, behind a trusted proxy (``TRUSTED_PROXIES``), a
well-formed one the proxy sent in ``X-Request-Id``. The response carries it in the same header,
every log record written while the request runs names it (``request_id``), and, unless the
server writes its own access log (``make serve``'s gunicorn does, in the same shape), one line
per request gives the method, path, status, duration and id. Query strings are left out of
the log: they hold what people searched for.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, has_request_context, request
from flask.logging import default_handler

HEADER = "X-Request-Id"
WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{8,64}")
LOG_FORMAT = "[%(asctime)s] %(levelname)s rid=%(request_id)s %(name)s: %(message)s"
requests_log = logging.getLogger("kb.requests")


def current() -> str:
    """The id of the request being handled, or "-" outside a request."""
    return g.get("request_id", "-") if has_request_context() else "-"


def _name_the_request(make_record):
    """Wrap the process's log record factory so every record has ``request_id``, whichever
    handler writes it, and a traceback can be matched to its request."""
    if getattr(make_record, "names_the_request", False):
        return make_record

    def make(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.request_id = current()
        return record

    make.names_the_request = True  # type: ignore[attr-defined]
    return make


def init_app(app: Flask) -> None:
    """Registered before every other resource, so the id exists for whatever runs next and the
    logged duration covers everything after it."""
    trust_incoming = app.config["TRUSTED_PROXIES"] > 0
    logging.setLogRecordFactory(_name_the_request(logging.getLogRecordFactory()))
    default_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    if app.config["REQUEST_LOG"]:
        requests_log.setLevel(logging.INFO)

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get(HEADER, "")
        fits = trust_incoming and WELL_FORMED.fullmatch(incoming)
        g.request_id = incoming if fits else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers[HEADER] = request_id
        if app.config["REQUEST_LOG"]:
            started = g.get("request_started", time.perf_counter())
            requests_log.info(
                "%s %s %s %.1fms",
                request.method,
                request.path,
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
        return response
