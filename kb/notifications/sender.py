"""The running site's mail sender: a thread per process that delivers the outbox.

It wakes when a request queued email, and every ``MAIL_POLL_SECONDS`` for retries and for
messages queued by other processes or by ``kb send-digests``. Claims in the outbox keep two
processes from sending the same message.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

log = logging.getLogger(__name__)


class Sender:
    """One background thread delivering the outbox for one app."""

    def __init__(self, app: Flask):
        self.app = app
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def wake(self) -> None:
        """Deliver soon (starting the thread on first use)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="span-mail", daemon=True)
                self._thread.start()
        self._wake.set()

    def stop(self, wait: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(wait)

    def _run(self) -> None:
        from kb.notifications.outbox import deliver_due

        while not self._stop.is_set():
            self._wake.clear()
            try:
                with self.app.app_context():
                    session = self.app.extensions["kb.db"]()
                    try:
                        report = deliver_due(self.app, session)
                    finally:
                        session.close()
                for failure in report.retrying + report.given_up:
                    log.warning("Email not delivered (will %s): %s",
                                "retry" if failure in report.retrying else "not retry",
                                failure)  # fmt: skip
            except Exception:  # the sender must survive anything; the outbox keeps the mail
                log.exception("Delivering the outbox failed; trying again later")
            self._wake.wait(self.app.config["MAIL_POLL_SECONDS"])
