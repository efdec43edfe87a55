"""gunicorn's settings for ``make serve``: Span in production.

Workers come from the cores (``KB_WORKERS`` overrides; ``make serve WORKERS=4``), each with a
few threads, since a request mostly waits on the database or reads the search index. A worker
that stops answering for ``timeout`` seconds is killed and replaced; ``kill -HUP`` on the
master restarts the workers gracefully (each finishes what it is doing, for up to
``graceful_timeout`` seconds), and so does recycling a worker after ``max_requests``.

The access log is Span's request log: method, path, status, duration and the request id that
the response also carries in ``X-Request-Id``, one line per request on standard output.
"""

import faulthandler
import os

bind = os.environ.get("KB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("KB_WORKERS") or min(8, (os.cpu_count() or 1) + 1))
worker_class = "gthread"
# On SQLite, one thread per worker: several request threads of one process reading SQLite
# through Python's driver while others read the search index corrupted the process's memory
# under load (a worker killed by SIGSEGV now and then). A database server is reached over a
# socket, so there threads wait on it and are worth having. SQLite answers in microseconds
# and the work is CPU-bound under the GIL, so a thread per worker costs SQLite sites little.
_ON_SQLITE = not os.environ.get("KB_DATABASE_URL", "").startswith("postgres")
threads = int(os.environ.get("KB_THREADS") or (1 if _ON_SQLITE else 4))

timeout = 60  # a worker silent this long is killed and replaced
graceful_timeout = 30  # on HUP, TERM or recycling, requests in flight get this long to finish
keepalive = 5
# Recycle workers now and then, so memory never creeps; rarely, since a new worker starts
# with cold search caches and cached pages answer a thousand requests a second.
max_requests = 100_000
max_requests_jitter = 10_000

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("KB_LOG_LEVEL", "info")
# time, request id, client, method, path (never the query string: it holds searches), status,
# bytes, duration in milliseconds
access_log_format = "%(t)s rid=%({x-request-id}o)s %(h)s %(m)s %(U)s %(s)s %(B)s %(M)sms"
# gunicorn writes the request log, so the app does not write a second one.
raw_env = ["KB_REQUEST_LOG=0"]

proc_name = "span"
# No control socket: one fixed path per user would clash between two servers on a host.
control_socket_disable = True
# Heartbeats in memory, not on a disk that may stall.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108


def post_fork(server, worker):
    """A worker killed by a fatal signal (SIGSEGV, SIGBUS...) writes every thread's traceback
    to the error log first, so a crash is found and explained, not just a reset connection."""
    faulthandler.enable()


def worker_exit(server, worker):
    """Close the search index's open files as a worker leaves."""
    from kb.search.index import close_all

    close_all(wait=5)
