"""Noticing a damaged index before it answers wrongly.

A Whoosh index whose files were overwritten or truncated does not always fail loudly: a
garbled term table simply stops finding terms, and searches return nothing. So whoever commits
to an index records the size and CRC-32 of each new file in that index's
``span-manifest.json`` (index files never change once written: new segments and tables of
contents get new names). Each process
checks a file's checksum once, and before every search only compares what ``stat`` says with
what it checked; a file changed since is checked again. A mismatch is damage.
"""

from __future__ import annotations

import contextlib
import json
import os
import sysconfig
import threading
import zlib
from pathlib import Path

from kb.search.folders import DRAFTS, PUBLIC, write_json

MANIFEST = "span-manifest.json"
_STANDARD_LIBRARY = sysconfig.get_paths()["stdlib"] + os.sep


class IndexDamaged(Exception):
    """An index file is missing, garbled or unreadable; the index must be rebuilt."""


def index_dirs(folder: Path) -> list[str]:
    """Every Whoosh index under ``folder``, relative to it (``public``, ``drafts/7`` ...)."""
    found = [PUBLIC] if (folder / PUBLIC).is_dir() else []
    with contextlib.suppress(OSError):
        found += [f"{DRAFTS}/{name}" for name in sorted(os.listdir(folder / DRAFTS))]
    return found


def _is_index_file(name: str) -> bool:
    # Segment files are MAIN_<segment>.<ext>, tables of contents _MAIN_<generation>.toc.
    return name.startswith(("MAIN_", "_MAIN_")) and not name.endswith(("LOCK", ".lock", ".tmp"))


def crc_of(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def load_manifest(index_dir: Path) -> dict[str, list[int]]:
    """{file name: [size, crc]} for one index; empty if there is none yet."""
    try:
        data = json.loads((index_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record(folder: Path, places: list[str] | None = None) -> None:
    """Add the new files of each index in ``places`` (every index under ``folder`` if None)
    to that index's manifest, and forget its deleted ones.

    Called after each commit, by whoever holds the folder's apply lock. A name already in the
    manifest keeps its first checksum: files never change, so a later difference is damage."""
    for relative in index_dirs(folder) if places is None else places:
        index_dir = folder / relative
        known = load_manifest(index_dir)
        files = {}
        with os.scandir(index_dir) as entries:
            for entry in entries:
                if _is_index_file(entry.name):
                    files[entry.name] = known.get(entry.name) or [
                        entry.stat().st_size,
                        crc_of(Path(entry.path)),
                    ]
        write_json(index_dir / MANIFEST, dict(sorted(files.items())))


class Verifier:
    """Checks the files of the indexes a search is about to read; one per process."""

    def __init__(self) -> None:
        self._checked: dict[str, tuple[int, int, int]] = {}  # path -> stat when checked
        self._manifests: dict[str, tuple[tuple[int, int], dict]] = {}
        self._lock = threading.Lock()

    def _manifest(self, index_dir: str) -> dict:
        try:
            stat = os.stat(f"{index_dir}/{MANIFEST}")
        except OSError:
            return {}
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._manifests.get(index_dir)
        if cached is None or cached[0] != key:
            cached = (key, load_manifest(Path(index_dir)))
            prefix = f"{index_dir}/"
            with self._lock:
                self._manifests[index_dir] = cached
                # Files merged away are gone from the manifest: forget them too.
                for path in [p for p in self._checked if p.startswith(prefix)]:
                    if path[len(prefix) :] not in cached[1]:
                        del self._checked[path]
        return cached[1]

    def verify(self, folder: Path, relatives: list[str]) -> None:
        """Raise ``IndexDamaged`` if a recorded file of these indexes changed. Files deleted
        since (merged away) are skipped; files not recorded yet (committed a moment ago) are
        checked on a later search."""
        for relative in relatives:
            index_dir = f"{folder}/{relative}"
            for name, (size, crc) in self._manifest(index_dir).items():
                path = f"{index_dir}/{name}"
                try:
                    stat = os.stat(path)
                    signature = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
                    if self._checked.get(path) == signature:
                        continue
                    if stat.st_size != size or crc_of(Path(path)) != crc:
                        raise IndexDamaged(f"{relative}/{name} differs from what was written")
                except FileNotFoundError:
                    continue  # merged away, perhaps between the stat and the checksum
                with self._lock:
                    self._checked[path] = signature

    def forget(self, folder: Path) -> None:
        """Drop what is known about ``folder`` (after it was replaced)."""
        prefix = f"{folder}/"
        with self._lock:
            for index_dir in [d for d in self._manifests if d.startswith(prefix)]:
                del self._manifests[index_dir]
            for path in [p for p in self._checked if p.startswith(prefix)]:
                del self._checked[path]


def raised_by_index(error: BaseException) -> bool:
    """Whether ``error`` came from reading or writing index files (rather than, say, the
    database or a bug in a caller): the innermost frame outside the standard library (Whoosh
    reading a file's size ends in ``os.path``) is in Whoosh or in this package's file
    handling."""
    traceback, module = error.__traceback__, ""
    while traceback is not None:
        if not _in_standard_library(traceback.tb_frame.f_code.co_filename):
            module = traceback.tb_frame.f_globals.get("__name__", "")
        traceback = traceback.tb_next
    return module.startswith(("whoosh", "kb.search.readers", "kb.search.integrity"))


def _in_standard_library(filename: str) -> bool:
    if filename.startswith("<frozen"):
        return True
    inside = filename.startswith(_STANDARD_LIBRARY) and filename[len(_STANDARD_LIBRARY) :]
    return bool(inside) and not inside.startswith(("site-packages", "dist-packages"))
