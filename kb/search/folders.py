"""Where a replica's index lives on disk, and the small files and locks around it.

Layout under a replica's root (``SEARCH_INDEX_DIR``)::

    replica.json           this replica's name in the database's registry
    current -> index-…     the live index folder (a symbolic link, swapped in one rename)
    rebuild.lock           held by whoever is rebuilding this replica
    index-…/
        span-state.json    the highest change-log id applied here, and the schema version
        apply.lock         held from reading the log until the new mark is written
        merge.lock         held by the process merging segments (it takes apply.lock to swap)
        public/            published and archived entries: what anyone may find
            merging-…/     a merged segment being written, until it is swapped in
        drafts/<org id>/   one organisation's drafts, searched only by its members
    (each index folder holds span-manifest.json: the size and CRC-32 of its files)

Drafts live apart so that nothing about them (words, counts, ranking statistics, spelling
suggestions) can reach a reader outside their organisation.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CURRENT = "current"
STATE_FILE = "span-state.json"
REPLICA_FILE = "replica.json"
APPLY_LOCK = "apply.lock"
MERGE_LOCK = "merge.lock"
REBUILD_LOCK = "rebuild.lock"
PUBLIC = "public"
DRAFTS = "drafts"


def live_folder(root: Path) -> Path | None:
    """The folder ``current`` points at, or None before the first build."""
    try:
        return (root / os.readlink(root / CURRENT)).resolve()
    except OSError:
        return None


def new_folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    folder = root / f"index-{time.time_ns()}-{os.getpid()}"
    folder.mkdir()
    return folder


def swap(root: Path, folder: Path) -> Path | None:
    """Make ``folder`` the live one in one atomic rename; returns the previous live folder."""
    previous = live_folder(root)
    link = root / f"{CURRENT}.{os.getpid()}.tmp"
    link.unlink(missing_ok=True)
    link.symlink_to(folder.name)
    os.replace(link, root / CURRENT)
    return previous


def remove_old(root: Path, keep: set[Path | None]) -> None:
    """Delete index folders other than ``keep``. The previous live folder is kept by callers:
    other processes may still be reading it."""
    kept = {k.resolve() for k in keep if k}
    for candidate in root.glob("index-*"):
        if candidate.resolve() not in kept:
            shutil.rmtree(candidate, ignore_errors=True)


def has_index(path: Path) -> bool:
    """Whether ``path`` holds a Whoosh index (a table of contents), without reading it: a
    garbled index must be found by the integrity check, not crash whoever looks."""
    try:
        return any(n.startswith("_MAIN_") and n.endswith(".toc") for n in os.listdir(path))
    except OSError:
        return False


def public_dir(folder: Path) -> Path:
    return folder / PUBLIC


def drafts_dir(folder: Path, organisation_id: int) -> Path:
    return folder / DRAFTS / str(organisation_id)


def draft_organisations(folder: Path) -> list[int]:
    """The organisations with a drafts index in ``folder``."""
    try:
        names = os.listdir(folder / DRAFTS)
    except OSError:
        return []
    return sorted(int(name) for name in names if name.isdigit())


def read_state(folder: Path | None) -> dict:
    if folder is None:
        return {}
    try:
        state = json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def write_json(path: Path, data: dict) -> None:
    """Replace ``path`` atomically, so a reader sees the old content or the new, never half."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


def replica_identity(root: Path) -> tuple[str, str]:
    """This replica's (name, location), made up the first time the root is used."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / REPLICA_FILE
    try:
        name = json.loads(path.read_text())["name"]
        if isinstance(name, str) and 0 < len(name) <= 64:
            return name, _location(root)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    name = uuid.uuid4().hex
    write_json(path, {"name": name})
    return name, _location(root)


def _location(root: Path) -> str:
    return f"{socket.gethostname()}:{root.resolve()}"[:500]


@contextmanager
def file_lock(path: Path, timeout: float) -> Iterator[bool]:
    """Hold an exclusive lock on ``path`` (shared by processes and threads alike), waiting at
    most ``timeout`` seconds; yields whether it was taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - closed below, after the lock is let go
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.01)
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
