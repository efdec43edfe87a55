"""Building background merges in a process of their own.

A merge is a second or so of pure Python. Built by a thread of the serving process, it takes
turns at the interpreter with that process's requests: a save's catch-up or a search running
meanwhile took twice as long. Built by another process, it runs on another core, or shares
the cores with the requests as the operating system sees fit. (It is not niced: with every
core busy, a niced merge got so little time that segments piled up, and every search reads
every segment.)

Each serving process starts its merging process when it first merges, and keeps it: starting
one costs most of a second of imports. It is a new Python process, not a fork, so it shares
nothing with the serving process: not its threads, locks, connections or open files. It
reads a pickled ``(index folder, plan)`` from its standard input and writes back the built
segment (or what failed), and exits when its input closes, that is, when the serving process
goes. If it dies, the merge it was building is logged as failed and the next merge starts
another.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

from kb.search import segments
from kb.search.integrity import raised_by_index

log = logging.getLogger(__name__)


class BuildFailed(Exception):
    """Building a merge in its own process failed. ``in_index``: inside the index's files (so
    the index may be damaged), rather than in a bug or a process that died."""

    def __init__(self, reason: str, in_index: bool) -> None:
        super().__init__(reason)
        self.in_index = in_index

    def __reduce__(self):  # it crosses from the merging process
        return BuildFailed, (self.args[0], self.in_index)


class _MergingProcess:
    """This process's merging process, started on first use; one merge at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._child: subprocess.Popen | None = None
        self._abandoned: list[subprocess.Popen] = []

    def forget(self) -> None:
        """In a process forked from this one: the merging process is not its own (writing to
        it would interleave with the parent's requests), and its pipes must not stay open
        here, or it would not see the parent go."""
        self._lock = threading.Lock()
        child, self._child = self._child, None
        if child is not None:
            for stream in (child.stdin, child.stdout):
                with contextlib.suppress(OSError):
                    os.close(stream.fileno())
            self._abandoned.append(child)  # never collected: it is not this process's child

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def build(self, index_dir: Path, plan: segments.Plan) -> segments.Built:
        with self._lock:
            child = self._running()
            try:
                pickle.dump((str(index_dir), plan), child.stdin, pickle.HIGHEST_PROTOCOL)
                child.stdin.flush()
                outcome = pickle.load(child.stdout)  # noqa: S301 - from our own child's pipe
            except (OSError, EOFError, pickle.UnpicklingError) as error:
                self.stop()
                reason = f"the merging process died ({type(error).__name__})"
                raise BuildFailed(reason, in_index=False) from None
        if isinstance(outcome, BuildFailed):
            raise outcome
        return outcome

    def _running(self) -> subprocess.Popen:
        if self._child is not None and (code := self._child.poll()) is not None:
            log.warning("The search index's merging process exited (%s); starting another", code)
            self.stop()
        if self._child is None:
            # The same ``kb`` as this process's, wherever that was found.
            path = [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]
            self._child = subprocess.Popen(  # noqa: S603 - a fixed command
                [sys.executable, "-c", f"from {__name__} import main; main()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))},
            )
        return self._child

    def stop(self) -> None:
        """Close its input (it exits) and wait for it; kill it if it does not go."""
        child, self._child = self._child, None
        if child is None:
            return
        for stream in (child.stdin, child.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        try:
            child.wait(5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


_merging = _MergingProcess()
atexit.register(_merging.stop)
os.register_at_fork(after_in_child=_merging.forget)


def build(index_dir: Path, plan: segments.Plan) -> segments.Built:
    """``segments.build`` in this process's merging process; raises ``BuildFailed``."""
    return _merging.build(index_dir, plan)


def merging_pid() -> int | None:
    """The merging process's id, if one is running (for tests)."""
    return _merging.pid


def _build(index_dir: Path, plan: segments.Plan) -> segments.Built | BuildFailed:
    """In the merging process. Whether a failure came from the index is decided here, where
    its traceback is; the serving process gets only the verdict."""
    try:
        return segments.build(index_dir, plan)
    except Exception as error:
        return BuildFailed(f"{type(error).__name__}: {error}", raised_by_index(error))


def main() -> None:
    """The merging process: build each merge asked for on standard input, until it closes."""
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # the replies' stream carries nothing else
    while True:
        try:
            index_dir, plan = pickle.load(requests)  # noqa: S301 - from the process that started us
        except EOFError:
            return
        pickle.dump(_build(Path(index_dir), plan), replies, pickle.HIGHEST_PROTOCOL)
        replies.flush()
