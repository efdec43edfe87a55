"""Rendered pages on disk, shared by every worker process of one site.

A page is filed under its generation (the catalogue's version, see ``versions.py``) and a hash
of its address. A new generation makes every older page unreachable, and the first page
stored under it removes the older folders. Writes go to a temporary file renamed into place,
so a reader sees a whole page or none; any failure to read or write is a miss, never an error.
Each generation holds at most ``max_pages`` pages, so however many addresses are asked for,
the cache stays bounded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

COUNT_EVERY = 50  # stores between counts of a generation's pages


class PageStore:
    def __init__(self, folder: Path, *, max_pages: int, max_page_bytes: int, seconds: float):
        self.folder = folder
        self.max_pages = max_pages
        self.max_page_bytes = max_page_bytes
        self.seconds = seconds
        self._stores: dict[str, int] = {}  # stores by this process, per generation
        self._full: set[str] = set()

    def _path(self, generation: str, address: str) -> Path:
        name = hashlib.sha256(address.encode("utf-8", "surrogatepass")).hexdigest()[:40]
        return self.folder / generation / name

    def get(self, generation: str, address: str) -> tuple[str, bytes] | None:
        """The content type and body stored for ``address``, if fresh."""
        path = self._path(generation, address)
        try:
            with path.open("rb") as page:
                if time.time() - os.fstat(page.fileno()).st_mtime > self.seconds:
                    return None
                stored_address, content_type, body = page.read().split(b"\n", 2)
        except (OSError, ValueError):
            return None
        if stored_address.decode("utf-8", "surrogatepass") != address:
            return None  # a hash collision, however unlikely
        return content_type.decode(), body

    def put(self, generation: str, address: str, content_type: str, body: bytes) -> bool:
        """Store a page; False if it was not stored (too big, generation full, disk error)."""
        if len(body) > self.max_page_bytes or generation in self._full or "\n" in address:
            return False
        folder = self.folder / generation
        try:
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                self._remove_older(generation)
            if not self._room(generation, folder):
                return False
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".")
            with os.fdopen(handle, "wb") as page:
                page.write(b"%s\n%s\n" % (address.encode("utf-8", "surrogatepass"),
                                          content_type.encode()))  # fmt: skip
                page.write(body)
            os.replace(temporary, self._path(generation, address))
        except OSError:
            return False
        return True

    def _room(self, generation: str, folder: Path) -> bool:
        stores = self._stores.get(generation, 0)
        self._stores = {generation: stores + 1}  # forget older generations
        if stores % COUNT_EVERY == 0:
            with os.scandir(folder) as pages:
                if sum(1 for _ in pages) >= self.max_pages:
                    self._full = {generation}
                    return False
        return True

    def _remove_older(self, generation: str) -> None:
        for other in self.folder.iterdir():
            if other.name != generation and other.is_dir():
                shutil.rmtree(other, ignore_errors=True)

    def clear(self) -> None:
        """Forget every page (after a restore, whose versions may repeat older ones)."""
        shutil.rmtree(self.folder, ignore_errors=True)
